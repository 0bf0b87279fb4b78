<?php
/**
 * Who may use the chat, who owns a job, and the per-user limit.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Access rules shared by the REST proxy, the widget and the history views.
 */
final class PraisonAI_Chatbot_Access {

	const VISITOR_COOKIE = 'praisonai_chatbot_visitor';

	/**
	 * Whether the current user may use the chat (the "who may use the chat" setting).
	 *
	 * @return bool
	 */
	public static function can_use() {
		$allowed = PraisonAI_Chatbot_Options::ACCESS_EVERYONE === PraisonAI_Chatbot_Options::get( 'access' ) || is_user_logged_in();
		/**
		 * Filters whether the current visitor may use the chat.
		 *
		 * @param bool $allowed Result of the access setting.
		 */
		return (bool) apply_filters( 'praisonai_chatbot_can_use', $allowed );
	}

	/**
	 * Whether the current user sees every user's jobs in the history.
	 *
	 * @return bool
	 */
	public static function can_see_all_jobs() {
		return current_user_can( apply_filters( 'praisonai_chatbot_view_all_capability', 'manage_options' ) );
	}

	/**
	 * The current user as a job owner: the user id, or for visitors a hash of a random cookie (set when $create).
	 *
	 * @param bool $create Set the visitor cookie when it is missing (only before any output).
	 * @return array{user_id:int, visitor:string, ip_hash:string}
	 */
	public static function current_owner( $create = false ) {
		$user_id = get_current_user_id();
		$visitor = '';
		if ( 0 === $user_id ) {
			$token = self::visitor_token( $create );
			$visitor = '' === $token ? '' : hash_hmac( 'sha256', $token, wp_salt( 'auth' ) );
		}
		$ip = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		/**
		 * Filters the visitor address used for the per-visitor limit (behind a reverse proxy, return the client's).
		 *
		 * @param string $ip REMOTE_ADDR.
		 */
		$ip = (string) apply_filters( 'praisonai_chatbot_client_ip', $ip );
		return array(
			'user_id' => $user_id,
			'visitor' => $visitor,
			'ip_hash' => hash_hmac( 'sha256', $ip, wp_salt( 'nonce' ) ),
		);
	}

	/**
	 * The JWT subject for the current user: the user id, or "visitor:<hash prefix>".
	 *
	 * @param array{user_id:int, visitor:string} $owner Owner.
	 * @return string
	 */
	public static function subject( $owner ) {
		return $owner['user_id'] > 0 ? (string) $owner['user_id'] : 'visitor:' . substr( $owner['visitor'], 0, 16 );
	}

	/**
	 * Refuse when the owner reached the per-user limit (jobs per hour; 0 means no limit).
	 *
	 * @param array<string, mixed> $owner Owner.
	 * @return true|WP_Error WP_Error with status 429 and data retry_after (seconds).
	 */
	public static function check_limit( $owner ) {
		$limit = (int) PraisonAI_Chatbot_Options::get( 'user_limit' );
		/** Filters the per-user limit (jobs per hour) for this owner; 0 means unlimited. */
		$limit = (int) apply_filters( 'praisonai_chatbot_user_limit', $limit, $owner );
		if ( $limit <= 0 ) {
			return true;
		}
		$recent = PraisonAI_Chatbot_Jobs::recent( $owner, HOUR_IN_SECONDS );
		if ( $recent['count'] < $limit ) {
			return true;
		}
		$retry = max( 1, $recent['oldest'] + HOUR_IN_SECONDS - time() );
		return new WP_Error(
			'praisonai_limit_reached',
			sprintf(
				/* translators: 1: jobs per hour, 2: minutes to wait. */
				_n(
					'You have reached the limit of %1$d job per hour. Please try again in %2$d minutes.',
					'You have reached the limit of %1$d jobs per hour. Please try again in %2$d minutes.',
					$limit,
					'praisonai-chatbot'
				),
				$limit,
				(int) ceil( $retry / 60 )
			),
			array(
				'status'      => 429,
				'retry_after' => $retry,
			)
		);
	}

	/**
	 * The visitor's random token from its cookie, set now if missing and $create.
	 *
	 * @param bool $create Whether to create it.
	 * @return string 32 hex characters, or '' when there is none.
	 */
	private static function visitor_token( $create ) {
		$token = isset( $_COOKIE[ self::VISITOR_COOKIE ] ) ? sanitize_text_field( wp_unslash( $_COOKIE[ self::VISITOR_COOKIE ] ) ) : '';
		if ( preg_match( '/^[a-f0-9]{32}$/', $token ) ) {
			return $token;
		}
		if ( ! $create || headers_sent() ) {
			return '';
		}
		$token = bin2hex( random_bytes( 16 ) );
		setcookie(
			self::VISITOR_COOKIE,
			$token,
			array(
				'expires'  => time() + 30 * DAY_IN_SECONDS,
				'path'     => COOKIEPATH ? COOKIEPATH : '/',
				'domain'   => COOKIE_DOMAIN ? COOKIE_DOMAIN : '',
				'secure'   => is_ssl(),
				'httponly' => true,
				'samesite' => 'Lax',
			)
		);
		$_COOKIE[ self::VISITOR_COOKIE ] = $token;
		return $token;
	}
}
