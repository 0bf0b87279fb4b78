<?php
/**
 * The praisonai-svc HTTP client used by the proxy and the history views: short timeouts, never waits for a job.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Talks to the service with the API key, which never leaves the server. Every method returns the decoded JSON
 * body or a WP_Error whose data carries the HTTP status to give the browser (and retry_after when the service
 * asked clients to wait).
 *
 * Every call names the address of the person it is made for in X-PraisonAI-Forwarded-For. The service believes
 * it only when the key is one of its PRAISONAI_SITE_KEYS, and then counts its per-address limits per visitor
 * instead of per WordPress server, so no visitor can use up the whole site's share.
 */
final class PraisonAI_Chatbot_Client {

	const VISITOR_HEADER = 'X-PraisonAI-Forwarded-For';

	/** @var string Service base URL without a trailing slash. */
	private $base_url;

	/** @var string API key ('' when the service has none). */
	private $api_key;

	/** @var string Address of the visitor the calls are made for ('' for none). */
	private $visitor_ip;

	/**
	 * Client for a service.
	 *
	 * @param string $base_url   Service base URL.
	 * @param string $api_key    API key.
	 * @param string $visitor_ip Address of the visitor the calls are made for ('' for none).
	 */
	public function __construct( $base_url, $api_key, $visitor_ip = '' ) {
		$this->base_url   = untrailingslashit( (string) $base_url );
		$this->api_key    = (string) $api_key;
		$this->visitor_ip = (string) $visitor_ip;
	}

	/**
	 * Client for the configured service, on behalf of whoever made the current request.
	 *
	 * @return self
	 */
	public static function from_settings() {
		return new self( PraisonAI_Chatbot_Options::get( 'service_url' ), PraisonAI_Chatbot_Options::get( 'api_key' ), PraisonAI_Chatbot_Access::client_ip() );
	}

	/**
	 * POST /jobs: queue a job. Returns at once with the job body; 'created' is false for an idempotent hit.
	 *
	 * @param string $service  Service name.
	 * @param string $document The request, {"payload": ...} as YAML or JSON text.
	 * @param string $format   'yaml' or 'json'.
	 * @return array{job: array<string, mixed>, created: bool}|WP_Error
	 */
	public function submit( $service, $document, $format ) {
		$type     = 'json' === $format ? 'application/json' : 'application/yaml';
		$url      = add_query_arg( 'service', rawurlencode( $service ), $this->base_url . '/jobs' );
		$response = $this->request( 'POST', $url, self::timeout( 'submit', 15 ), $document, $type );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		if ( ! self::is_job( $response['body'] ) ) {
			return self::unexpected();
		}
		return array(
			'job'     => $response['body'],
			'created' => 202 === $response['code'],
		);
	}

	/**
	 * GET /jobs/{id}: the job's current state.
	 *
	 * @param string $job_id Job id.
	 * @return array<string, mixed>|WP_Error
	 */
	public function job( $job_id ) {
		$response = $this->request( 'GET', $this->base_url . '/jobs/' . rawurlencode( $job_id ), self::timeout( 'status', 8 ) );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		return self::is_job( $response['body'] ) ? $response['body'] : self::unexpected();
	}

	/**
	 * POST /jobs/{id}/cancel: the job as it is after the request (cancelled, or still ending).
	 *
	 * @param string $job_id Job id.
	 * @return array<string, mixed>|WP_Error
	 */
	public function cancel( $job_id ) {
		$response = $this->request( 'POST', $this->base_url . '/jobs/' . rawurlencode( $job_id ) . '/cancel', self::timeout( 'cancel', 8 ) );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		return self::is_job( $response['body'] ) ? $response['body'] : self::unexpected();
	}

	/**
	 * Open GET /jobs/{id}/events (Server-Sent Events) as a socket positioned at the body, resuming after $after.
	 *
	 * The WordPress HTTP API buffers whole responses, and PHP's http:// wrapper buffers reads in 8 KB blocks, so
	 * an event would reach the browser only with the next 8 KB: this one request is written on a plain socket
	 * (TLS for https) as HTTP/1.0, whose body is the raw stream, so each event is relayed as it arrives.
	 *
	 * @param string $job_id  Job id.
	 * @param int    $after   The last event id the browser has.
	 * @param int    $timeout Seconds to connect.
	 * @return resource|WP_Error
	 */
	public function open_events( $job_id, $after, $timeout ) {
		if ( '' === $this->base_url ) {
			return new WP_Error( 'praisonai_not_configured', __( 'The chat is not set up yet: the site administrator needs to enter the service URL.', 'praisonai-chatbot' ), array( 'status' => 503 ) );
		}
		$parts = wp_parse_url( $this->base_url . '/jobs/' . rawurlencode( $job_id ) . '/events' );
		$tls   = isset( $parts['scheme'] ) && 'https' === $parts['scheme'];
		$host  = isset( $parts['host'] ) ? $parts['host'] : '';
		$port  = isset( $parts['port'] ) ? (int) $parts['port'] : ( $tls ? 443 : 80 );
		$unreachable = new WP_Error( 'praisonai_unreachable', __( 'The job service cannot be reached right now. Please try again in a moment.', 'praisonai-chatbot' ), array( 'status' => 503 ) );
		$context     = stream_context_create( array( 'ssl' => array( 'peer_name' => $host, 'verify_peer' => true, 'verify_peer_name' => true ) ) );
		$socket      = @stream_socket_client( ( $tls ? 'tls://' : 'tcp://' ) . $host . ':' . $port, $errno, $errstr, $timeout, STREAM_CLIENT_CONNECT, $context ); // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- failure is handled below.
		if ( false === $socket ) {
			self::log( 'event stream from ' . $host . ' failed to open: ' . $errstr );
			return $unreachable;
		}
		$lines = array(
			'GET ' . $parts['path'] . ' HTTP/1.0',
			'Host: ' . $host . ( isset( $parts['port'] ) ? ':' . $port : '' ),
			'Accept: text/event-stream',
			'Last-Event-ID: ' . (int) $after,
			'User-Agent: praisonai-chatbot/' . PRAISONAI_CHATBOT_VERSION,
		);
		if ( '' !== $this->api_key ) {
			$lines[] = 'X-API-Key: ' . $this->api_key;
		}
		fwrite( $socket, implode( "\r\n", $lines ) . "\r\n\r\n" ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fwrite -- a network socket.
		stream_set_timeout( $socket, $timeout );
		$status = fgets( $socket, 1024 );
		$code   = ( false !== $status && preg_match( '#^HTTP/\S+\s+(\d{3})#', $status, $match ) ) ? (int) $match[1] : 0;
		$retry  = null;
		while ( false !== ( $header = fgets( $socket, 8192 ) ) && '' !== trim( $header ) ) {
			if ( 0 === stripos( $header, 'retry-after:' ) ) {
				$retry = trim( substr( $header, 12 ) );
			}
		}
		if ( 200 !== $code ) {
			$body = json_decode( (string) stream_get_contents( $socket, 65536 ), true );
			fclose( $socket ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fclose -- a network socket.
			return 0 === $code ? $unreachable : self::failure( $code, $body, $retry );
		}
		return $socket;
	}

	/**
	 * GET /jobs/{id}/download?format=json: a freshly signed, short-lived download link.
	 *
	 * @param string $job_id Job id.
	 * @return array{download_url: string, expires_utc: string}|WP_Error
	 */
	public function download_link( $job_id ) {
		$url      = $this->base_url . '/jobs/' . rawurlencode( $job_id ) . '/download?format=json';
		$response = $this->request( 'GET', $url, self::timeout( 'download', 8 ) );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$body = $response['body'];
		if ( ! is_array( $body ) || empty( $body['download_url'] ) || ! in_array( wp_parse_url( (string) $body['download_url'], PHP_URL_SCHEME ), array( 'http', 'https' ), true ) ) {
			return self::unexpected();
		}
		return array(
			'download_url' => (string) $body['download_url'],
			'expires_utc'  => isset( $body['expires_utc'] ) ? (string) $body['expires_utc'] : '',
		);
	}

	/**
	 * GET /health: app name, version and services (the settings page's connection test).
	 *
	 * @return array<string, mixed>|WP_Error
	 */
	public function health() {
		$response = $this->request( 'GET', $this->base_url . '/health', self::timeout( 'health', 5 ) );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		return is_array( $response['body'] ) ? $response['body'] : self::unexpected();
	}

	/**
	 * One HTTP call; non-2xx answers become WP_Errors.
	 *
	 * @param string      $method       HTTP method.
	 * @param string      $url          Absolute URL.
	 * @param float       $timeout      Seconds.
	 * @param string|null $body         Request body.
	 * @param string|null $content_type Request content type.
	 * @return array{code: int, body: mixed}|WP_Error
	 */
	private function request( $method, $url, $timeout, $body = null, $content_type = null ) {
		if ( '' === $this->base_url ) {
			return new WP_Error( 'praisonai_not_configured', __( 'The chat is not set up yet: the site administrator needs to enter the service URL.', 'praisonai-chatbot' ), array( 'status' => 503 ) );
		}
		$headers = array( 'Accept' => 'application/json' );
		if ( '' !== $this->api_key ) {
			$headers['X-API-Key'] = $this->api_key;
		}
		if ( '' !== $this->visitor_ip ) {
			$headers[ self::VISITOR_HEADER ] = $this->visitor_ip;
		}
		if ( null !== $content_type ) {
			$headers['Content-Type'] = $content_type;
		}
		$args = array(
			'method'      => $method,
			'timeout'     => $timeout,
			'redirection' => 0,
			'headers'     => $headers,
			'user-agent'  => 'praisonai-chatbot/' . PRAISONAI_CHATBOT_VERSION . '; ' . home_url( '/' ),
		);
		if ( null !== $body ) {
			$args['body'] = $body;
		}
		$response = wp_remote_request( $url, $args );
		if ( is_wp_error( $response ) ) {
			self::log( 'request to ' . $url . ' failed: ' . $response->get_error_message() );
			return new WP_Error(
				'praisonai_unreachable',
				__( 'The job service cannot be reached right now. Please try again in a moment.', 'praisonai-chatbot' ),
				array(
					'status'      => 503,
					'retry_after' => 15,
				)
			);
		}
		$code    = (int) wp_remote_retrieve_response_code( $response );
		$decoded = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( $code >= 200 && $code < 300 ) {
			return array(
				'code' => $code,
				'body' => $decoded,
			);
		}
		return self::failure( $code, $decoded, wp_remote_retrieve_header( $response, 'retry-after' ) );
	}

	/**
	 * Turn a service error into one the browser can show, keeping the status where it means something to the user.
	 *
	 * @param int          $code        Service status.
	 * @param mixed        $body        Decoded body.
	 * @param string|array $retry_after Retry-After header.
	 * @return WP_Error
	 */
	private static function failure( $code, $body, $retry_after ) {
		$detail = self::detail( $body );
		if ( 401 === $code || 403 === $code ) {
			self::log( 'the service refused the API key: HTTP ' . $code );
			return new WP_Error( 'praisonai_bad_credentials', __( 'The job service refused this site\'s credentials. The site administrator needs to check the API key in the PraisonAI Chatbot settings.', 'praisonai-chatbot' ), array( 'status' => 502 ) );
		}
		if ( 429 === $code || 503 === $code ) {
			$message = 429 === $code
				? __( 'The job service is busy. Please wait a moment.', 'praisonai-chatbot' )
				: __( 'The job service is temporarily unavailable. Please wait a moment.', 'praisonai-chatbot' );
			return new WP_Error(
				429 === $code ? 'praisonai_busy' : 'praisonai_unavailable',
				'' === $detail ? $message : $message . ' (' . $detail . ')',
				array(
					'status'      => $code,
					'retry_after' => self::retry_after( $retry_after ),
				)
			);
		}
		if ( $code >= 400 && $code < 500 ) {
			/* translators: %s: the service's explanation. */
			$message = '' === $detail ? __( 'The job service refused the request.', 'praisonai-chatbot' ) : sprintf( __( 'The job service refused the request: %s', 'praisonai-chatbot' ), $detail );
			return new WP_Error( 'praisonai_rejected', $message, array( 'status' => $code ) );
		}
		/* translators: 1: HTTP status code, 2: the service's explanation. */
		$message = sprintf( __( 'The job service failed (HTTP %1$d). %2$s', 'praisonai-chatbot' ), $code, $detail );
		return new WP_Error( 'praisonai_service_error', trim( $message ), array( 'status' => 502 ) );
	}

	/**
	 * The service's FastAPI-style {"detail": ...} as text.
	 *
	 * @param mixed $body Decoded body.
	 * @return string
	 */
	private static function detail( $body ) {
		if ( ! is_array( $body ) || ! isset( $body['detail'] ) ) {
			return '';
		}
		$detail = is_string( $body['detail'] ) ? $body['detail'] : wp_json_encode( $body['detail'] );
		return wp_strip_all_tags( (string) $detail );
	}

	/**
	 * Retry-After in seconds (delta-seconds or an HTTP date), clamped to [1, 600]; 5 when absent.
	 *
	 * @param string|array $header Header value.
	 * @return int
	 */
	private static function retry_after( $header ) {
		$value = is_array( $header ) ? (string) reset( $header ) : (string) $header;
		if ( '' === $value ) {
			return 5;
		}
		$seconds = ctype_digit( $value ) ? (int) $value : (int) strtotime( $value ) - time();
		return max( 1, min( 600, $seconds ) );
	}

	/**
	 * Whether a decoded body looks like a job.
	 *
	 * @param mixed $body Decoded body.
	 * @return bool
	 */
	private static function is_job( $body ) {
		return is_array( $body ) && isset( $body['job_id'], $body['status'] ) && preg_match( '/^[A-Za-z0-9_-]{1,64}$/', (string) $body['job_id'] );
	}

	/**
	 * Error for a 2xx answer we cannot read.
	 *
	 * @return WP_Error
	 */
	private static function unexpected() {
		return new WP_Error( 'praisonai_bad_answer', __( 'The job service gave an answer this plugin does not understand. Is the service URL right?', 'praisonai-chatbot' ), array( 'status' => 502 ) );
	}

	/**
	 * Timeout of one kind of call, filterable.
	 *
	 * @param string $kind    submit, status, download or health.
	 * @param float  $seconds Default.
	 * @return float
	 */
	private static function timeout( $kind, $seconds ) {
		return (float) apply_filters( 'praisonai_chatbot_http_timeout', $seconds, $kind );
	}

	/**
	 * Log for the site administrator (only with WP_DEBUG_LOG); never shown to visitors.
	 *
	 * @param string $message Message.
	 */
	private static function log( $message ) {
		if ( defined( 'WP_DEBUG' ) && WP_DEBUG ) {
			error_log( 'praisonai-chatbot: ' . $message ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		}
	}
}
