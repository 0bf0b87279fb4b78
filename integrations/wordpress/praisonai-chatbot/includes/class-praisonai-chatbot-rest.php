<?php
/**
 * The REST proxy (mode A) and the token endpoint (mode B) under praisonai/v1.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Routes:
 *   POST praisonai/v1/jobs                 queue a job (adds the API key server-side, returns at once)
 *   GET  praisonai/v1/jobs/{id}            the job's status (only the submitter's own jobs; others get 404)
 *   GET  praisonai/v1/jobs/{id}/download   a fresh signed download link as JSON
 *   POST praisonai/v1/token                a short-lived HS256 JWT for direct mode
 *   POST praisonai/v1/history              direct mode: remember a job the browser submitted itself, on the proof
 *                                          of the service's submission receipt for this user
 * Every route needs the wp_rest nonce and the access setting's permission; bodies over MAX_BODY are refused
 * before WordPress parses them.
 */
final class PraisonAI_Chatbot_REST {

	const NAMESPACE_V1 = 'praisonai/v1';
	const JOB_ID       = '(?P<id>[a-f0-9]{8,64})';
	const MAX_DOCUMENT = 1048576;
	/** The document JSON-encoded (quotes, backslashes and newlines take two bytes) plus the other fields. */
	const MAX_BODY  = 2162688;
	const TOKEN_TTL = 300;

	/**
	 * Register the routes (rest_api_init).
	 */
	public function register_routes() {
		$permission = array( $this, 'permission' );
		register_rest_route(
			self::NAMESPACE_V1,
			'/jobs',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'submit' ),
				'permission_callback' => $permission,
				'args'                => array(
					'document' => array(
						'type'     => 'string',
						'required' => true,
					),
					'format'   => array(
						'type'    => 'string',
						'enum'    => array( 'yaml', 'json' ),
						'default' => 'yaml',
					),
					'service'  => array(
						'type'    => 'string',
						'pattern' => '^[A-Za-z0-9._-]{0,64}$',
						'default' => '',
					),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/jobs/' . self::JOB_ID,
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'status' ),
				'permission_callback' => $permission,
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/jobs/' . self::JOB_ID . '/download',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'download' ),
				'permission_callback' => $permission,
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/token',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'token' ),
				'permission_callback' => $permission,
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/history',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'remember' ),
				'permission_callback' => $permission,
				'args'                => array(
					'job_id'  => array(
						'type'     => 'string',
						'pattern'  => '^[a-f0-9]{8,64}$',
						'required' => true,
					),
					'receipt' => array(
						'type'      => 'string',
						'maxLength' => PraisonAI_Chatbot_JWT::MAX_RECEIPT_LENGTH,
						'required'  => true,
					),
				),
			)
		);
	}

	/**
	 * The access setting, then the wp_rest nonce (also for visitors, against cross-site requests).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public function permission( $request ) {
		if ( ! PraisonAI_Chatbot_Access::can_use() ) {
			return new WP_Error( 'praisonai_login_required', __( 'Please log in to use the chat.', 'praisonai-chatbot' ), array( 'status' => rest_authorization_required_code() ) );
		}
		$nonce = $request->get_header( 'x_wp_nonce' );
		if ( ! $nonce || ! wp_verify_nonce( $nonce, 'wp_rest' ) ) {
			return new WP_Error( 'praisonai_bad_nonce', __( 'Your session has expired. Please reload the page.', 'praisonai-chatbot' ), array( 'status' => 403 ) );
		}
		return true;
	}

	/**
	 * rest_pre_dispatch: refuse a body to this plugin's routes that is larger than any legal request, before
	 * WordPress decodes it (413).
	 *
	 * @param mixed           $result  Response so far (null).
	 * @param WP_REST_Server  $server  Server.
	 * @param WP_REST_Request $request Request.
	 * @return mixed
	 */
	public static function refuse_oversized( $result, $server, $request ) {
		unset( $server );
		if ( null !== $result || 0 !== strpos( (string) $request->get_route(), '/' . self::NAMESPACE_V1 . '/' ) ) {
			return $result;
		}
		if ( strlen( (string) $request->get_body() ) > self::MAX_BODY ) {
			return self::too_large();
		}
		return $result;
	}

	/**
	 * POST /jobs. The attempt counts against the per-user limit first, whatever becomes of it.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function submit( $request ) {
		$owner   = PraisonAI_Chatbot_Access::current_owner( true );
		$allowed = PraisonAI_Chatbot_Access::count_attempt( $owner );
		if ( is_wp_error( $allowed ) ) {
			return self::error( $allowed );
		}
		$document = (string) $request['document'];
		if ( '' === trim( $document ) ) {
			return self::error( new WP_Error( 'praisonai_empty', __( 'Type or paste a request first.', 'praisonai-chatbot' ), array( 'status' => 400 ) ) );
		}
		if ( strlen( $document ) > self::MAX_DOCUMENT ) {
			return self::error( self::too_large() );
		}
		$service = self::service( $request['service'] );
		$result  = PraisonAI_Chatbot_Client::from_settings()->submit( $service, $document, (string) $request['format'] );
		if ( is_wp_error( $result ) ) {
			return self::error( $result );
		}
		PraisonAI_Chatbot_Jobs::record( $owner, $service, $result['job'] );
		/**
		 * Fires after a job was queued through the proxy.
		 *
		 * @param array  $job     Job body from the service.
		 * @param array  $owner   Submitter.
		 * @param string $service Service name.
		 */
		do_action( 'praisonai_chatbot_job_submitted', $result['job'], $owner, $service );
		return self::respond( self::public_job( $result['job'] ), $result['created'] ? 202 : 200 );
	}

	/**
	 * GET /jobs/{id}.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function status( $request ) {
		$job_id = (string) $request['id'];
		if ( null === PraisonAI_Chatbot_Jobs::find( $job_id, PraisonAI_Chatbot_Access::current_owner() ) ) {
			return self::not_found();
		}
		$job = PraisonAI_Chatbot_Client::from_settings()->job( $job_id );
		if ( is_wp_error( $job ) ) {
			return self::error( $job );
		}
		PraisonAI_Chatbot_Jobs::update_from_job( $job );
		return self::respond( self::public_job( $job ), 200 );
	}

	/**
	 * GET /jobs/{id}/download.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function download( $request ) {
		$job_id = (string) $request['id'];
		$row    = PraisonAI_Chatbot_Jobs::find( $job_id, PraisonAI_Chatbot_Access::current_owner() );
		if ( null === $row ) {
			return self::not_found();
		}
		$link = PraisonAI_Chatbot_Client::from_settings()->download_link( $job_id );
		if ( is_wp_error( $link ) ) {
			return self::error( $link );
		}
		$link['filename'] = (string) $row->filename;
		return self::respond( $link, 200 );
	}

	/**
	 * POST /token: a JWT for direct mode (iss = site URL, aud = praisonai-svc, sub = user, exp = 5 minutes).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function token( $request ) {
		unset( $request );
		$settings = PraisonAI_Chatbot_Options::all();
		if ( PraisonAI_Chatbot_Options::MODE_DIRECT !== $settings['mode'] || '' === $settings['jwt_secret'] ) {
			return self::error( new WP_Error( 'praisonai_not_direct', __( 'Direct mode is not enabled on this site.', 'praisonai-chatbot' ), array( 'status' => 400 ) ) );
		}
		$owner   = PraisonAI_Chatbot_Access::current_owner( true );
		$allowed = PraisonAI_Chatbot_Access::check_limit( $owner );
		if ( is_wp_error( $allowed ) ) {
			return self::error( $allowed );
		}
		$ttl    = (int) apply_filters( 'praisonai_chatbot_token_ttl', self::TOKEN_TTL );
		$claims = PraisonAI_Chatbot_JWT::claims( get_site_url(), PraisonAI_Chatbot_Access::subject( $owner ), $ttl, time() );
		return self::respond(
			array(
				'token'       => PraisonAI_Chatbot_JWT::encode( $claims, $settings['jwt_secret'] ),
				'token_type'  => 'Bearer',
				'expires_in'  => $ttl,
				'service_url' => $settings['service_url'],
			),
			200
		);
	}

	/**
	 * POST /history: direct mode's record of a job the browser queued itself.
	 *
	 * A job id proves nothing (every signed download link contains one), so the browser must hand over the
	 * submission receipt the service returned with the job: signed with a key derived from the JWT secret, it
	 * names the job and the token subject (this user) that submitted it. Anything else is refused with 403 before
	 * the service is asked, so the answer says nothing about whether the job exists.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function remember( $request ) {
		$settings = PraisonAI_Chatbot_Options::all();
		if ( PraisonAI_Chatbot_Options::MODE_DIRECT !== $settings['mode'] || '' === $settings['jwt_secret'] ) {
			return self::error( new WP_Error( 'praisonai_not_direct', __( 'Direct mode is not enabled on this site.', 'praisonai-chatbot' ), array( 'status' => 400 ) ) );
		}
		$owner  = PraisonAI_Chatbot_Access::current_owner( true );
		$job_id = (string) $request['job_id'];
		$claims = PraisonAI_Chatbot_JWT::decode_receipt( (string) $request['receipt'], $settings['jwt_secret'], time() );
		if ( null === $claims || ! self::receipt_is_for( $claims, $job_id, $owner ) ) {
			return self::error( new WP_Error( 'praisonai_not_your_job', __( 'This job was not submitted from your session, so it cannot be added to your history.', 'praisonai-chatbot' ), array( 'status' => 403 ) ) );
		}
		$job = PraisonAI_Chatbot_Client::from_settings()->job( $job_id );
		if ( is_wp_error( $job ) ) {
			return self::error( $job );
		}
		if ( null === PraisonAI_Chatbot_Jobs::find( $job_id, $owner ) ) {
			PraisonAI_Chatbot_Attempts::add( $owner ); // the per-user limit, checked when tokens are issued
		}
		$service = isset( $claims['svc'] ) && is_string( $claims['svc'] ) ? $claims['svc'] : '';
		PraisonAI_Chatbot_Jobs::record( $owner, self::service( $service ), $job );
		return self::respond( self::public_job( $job ), 201 );
	}

	/**
	 * Whether verified receipt claims are for $job_id, submitted with a token this site minted for $owner.
	 *
	 * @param array<string, mixed> $claims Receipt claims.
	 * @param string               $job_id Job id to record.
	 * @param array<string, mixed> $owner  Current owner.
	 * @return bool
	 */
	private static function receipt_is_for( $claims, $job_id, $owner ) {
		if ( 0 === (int) $owner['user_id'] && '' === (string) $owner['visitor'] ) {
			return false; // a visitor without a session cookie owns nothing
		}
		$fields = array(
			'job' => $job_id,
			'sub' => PraisonAI_Chatbot_Access::subject( $owner ),
			'iss' => get_site_url(),
		);
		foreach ( $fields as $name => $expected ) {
			if ( ! isset( $claims[ $name ] ) || ! is_string( $claims[ $name ] ) || ! hash_equals( $expected, $claims[ $name ] ) ) {
				return false;
			}
		}
		return true;
	}

	/**
	 * The fields of a job the browser needs; the service's own download URL (which needs the key) is left out.
	 *
	 * @param array<string, mixed> $job Job body from the service.
	 * @return array<string, mixed>
	 */
	public static function public_job( $job ) {
		$fields = array( 'job_id', 'service', 'status', 'progress', 'progress_msg', 'error_msg', 'filename', 'size', 'created_utc', 'updated_utc', 'started_utc', 'finished_utc', 'attempts' );
		$public = array();
		foreach ( $fields as $field ) {
			$public[ $field ] = isset( $job[ $field ] ) ? $job[ $field ] : null;
		}
		return $public;
	}

	/**
	 * The requested service, or the default one.
	 *
	 * @param mixed $name Requested name.
	 * @return string
	 */
	private static function service( $name ) {
		$name = PraisonAI_Chatbot_Options::sanitize_service( $name );
		return '' === $name ? (string) PraisonAI_Chatbot_Options::get( 'default_service' ) : $name;
	}

	/**
	 * A JSON response that no cache keeps.
	 *
	 * @param mixed $data   Body.
	 * @param int   $status HTTP status.
	 * @return WP_REST_Response
	 */
	private static function respond( $data, $status ) {
		$response = new WP_REST_Response( $data, $status );
		$response->header( 'Cache-Control', 'no-store, private' );
		return $response;
	}

	/**
	 * The standard REST error body ({code, message, data: {status}}), with Retry-After when the data has one.
	 *
	 * @param WP_Error $error Error.
	 * @return WP_REST_Response
	 */
	private static function error( WP_Error $error ) {
		$data     = (array) $error->get_error_data();
		$status   = isset( $data['status'] ) ? (int) $data['status'] : 500;
		$response = self::respond(
			array(
				'code'    => $error->get_error_code(),
				'message' => $error->get_error_message(),
				'data'    => $data,
			),
			$status
		);
		if ( isset( $data['retry_after'] ) ) {
			$response->header( 'Retry-After', (string) (int) $data['retry_after'] );
		}
		return $response;
	}

	/**
	 * 413: the request is larger than the service accepts.
	 *
	 * @return WP_Error
	 */
	private static function too_large() {
		return new WP_Error( 'praisonai_too_large', __( 'The request is larger than 1 MB.', 'praisonai-chatbot' ), array( 'status' => 413 ) );
	}

	/**
	 * 404 for unknown jobs and other users' jobs alike, so ids cannot be probed.
	 *
	 * @return WP_REST_Response
	 */
	private static function not_found() {
		return self::error( new WP_Error( 'praisonai_not_found', __( 'No such job.', 'praisonai-chatbot' ), array( 'status' => 404 ) ) );
	}
}
