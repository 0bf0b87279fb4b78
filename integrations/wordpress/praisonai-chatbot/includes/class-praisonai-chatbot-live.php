<?php
/**
 * Live job updates and cancel through the proxy (mode A).
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Routes (same permission and ownership rules as the other proxy routes; others' jobs are 404):
 *   GET  praisonai/v1/jobs/{id}/events   the job's Server-Sent Events, relayed from the service (with the API key
 *                                        added here), at most MAX_SECONDS per request; the browser reconnects with
 *                                        Last-Event-ID and misses nothing
 *   POST praisonai/v1/jobs/{id}/cancel   cancel the job
 */
final class PraisonAI_Chatbot_Live {

	/**
	 * How long one relayed stream lasts: a PHP worker is held meanwhile, so streams are short and resumed.
	 */
	const MAX_SECONDS = 25;

	/**
	 * Register the routes (rest_api_init).
	 */
	public function register_routes() {
		$rest = new PraisonAI_Chatbot_REST();
		register_rest_route(
			PraisonAI_Chatbot_REST::NAMESPACE_V1,
			'/jobs/' . PraisonAI_Chatbot_REST::JOB_ID . '/events',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'events' ),
				'permission_callback' => array( $rest, 'permission' ),
			)
		);
		register_rest_route(
			PraisonAI_Chatbot_REST::NAMESPACE_V1,
			'/jobs/' . PraisonAI_Chatbot_REST::JOB_ID . '/cancel',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'cancel' ),
				'permission_callback' => array( $rest, 'permission' ),
			)
		);
	}

	/**
	 * POST /jobs/{id}/cancel.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function cancel( $request ) {
		$job_id = (string) $request['id'];
		if ( null === PraisonAI_Chatbot_Jobs::find( $job_id, PraisonAI_Chatbot_Access::current_owner() ) ) {
			return self::failure( 'praisonai_not_found', __( 'No such job.', 'praisonai-chatbot' ), 404 );
		}
		$job = PraisonAI_Chatbot_Client::from_settings()->cancel( $job_id );
		if ( is_wp_error( $job ) ) {
			$data = (array) $job->get_error_data();
			return self::failure( $job->get_error_code(), $job->get_error_message(), isset( $data['status'] ) ? (int) $data['status'] : 502 );
		}
		PraisonAI_Chatbot_Jobs::update_from_job( $job );
		$response = new WP_REST_Response( PraisonAI_Chatbot_REST::public_job( $job ), 200 );
		$response->header( 'Cache-Control', 'no-store, private' );
		return $response;
	}

	/**
	 * GET /jobs/{id}/events: relays the service's stream (never returns when it streamed).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function events( $request ) {
		$job_id = (string) $request['id'];
		if ( null === PraisonAI_Chatbot_Jobs::find( $job_id, PraisonAI_Chatbot_Access::current_owner() ) ) {
			return self::failure( 'praisonai_not_found', __( 'No such job.', 'praisonai-chatbot' ), 404 );
		}
		$last     = (string) $request->get_header( 'last_event_id' );
		$after    = ctype_digit( $last ) ? (int) $last : 0;
		$upstream = PraisonAI_Chatbot_Client::from_settings()->open_events( $job_id, $after, self::MAX_SECONDS + 5 );
		if ( is_wp_error( $upstream ) ) {
			$data = (array) $upstream->get_error_data();
			return self::failure( $upstream->get_error_code(), $upstream->get_error_message(), isset( $data['status'] ) ? (int) $data['status'] : 502 );
		}
		self::relay( $upstream );
		exit;
	}

	/**
	 * Copy events from the service to the browser as they come, for at most MAX_SECONDS; drop the service's own
	 * download URL from them (the browser asks the proxy for a link, which needs no key).
	 *
	 * @param resource $upstream The service's event stream.
	 */
	private static function relay( $upstream ) {
		while ( ob_get_level() > 0 ) {
			ob_end_clean();
		}
		status_header( 200 );
		header( 'Content-Type: text/event-stream; charset=utf-8' );
		header( 'Cache-Control: no-store, private' );
		header( 'X-Accel-Buffering: no' );
		ignore_user_abort( false );
		$deadline = time() + self::MAX_SECONDS;
		stream_set_timeout( $upstream, 2 );
		while ( time() < $deadline && ! feof( $upstream ) && ! connection_aborted() ) {
			$line = fgets( $upstream, 65536 );
			if ( false === $line ) {
				echo ": keep-alive\n\n"; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a fixed SSE comment.
				flush();
				continue;
			}
			if ( 0 === strpos( $line, 'data:' ) ) {
				$event = json_decode( trim( substr( $line, 5 ) ), true );
				if ( ! is_array( $event ) ) {
					continue;
				}
				unset( $event['download_url'] );
				$line = 'data: ' . wp_json_encode( $event ) . "\n";
			} elseif ( 0 !== strpos( $line, 'id:' ) && 0 !== strpos( $line, 'event:' ) && '' !== trim( $line ) && 0 !== strpos( $line, ':' ) ) {
				continue; // only the SSE fields the widget reads are passed on.
			}
			echo $line; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- SSE fields, JSON re-encoded above.
			flush();
		}
		fclose( $upstream ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fclose -- a network stream.
	}

	/**
	 * A REST error body ({code, message, data: {status}}).
	 *
	 * @param string $code    Error code.
	 * @param string $message Message for the visitor.
	 * @param int    $status  HTTP status.
	 * @return WP_REST_Response
	 */
	private static function failure( $code, $message, $status ) {
		$response = new WP_REST_Response(
			array(
				'code'    => $code,
				'message' => $message,
				'data'    => array( 'status' => $status ),
			),
			$status
		);
		$response->header( 'Cache-Control', 'no-store, private' );
		return $response;
	}
}
