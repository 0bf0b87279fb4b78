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
		return array(
			'user_id' => $user_id,
			'visitor' => $visitor,
			'ip_hash' => hash_hmac( 'sha256', self::client_ip(), wp_salt( 'nonce' ) ),
		);
	}

	/**
	 * The address of the person this request is for: REMOTE_ADDR, or what the praisonai_chatbot_client_ip filter
	 * says behind a reverse proxy. It keys the per-visitor limit here, and the service's per-visitor limits when
	 * it is sent along with a site key (see PraisonAI_Chatbot_Client).
	 *
	 * @return string An IP address, or '' outside a web request (or when the filter returns something else).
	 */
	public static function client_ip() {
		$ip = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		/**
		 * Filters the visitor address used for the per-visitor limits (behind a reverse proxy, return the client's).
		 *
		 * @param string $ip REMOTE_ADDR.
		 */
		$ip = trim( (string) apply_filters( 'praisonai_chatbot_client_ip', $ip ) );
		return false === filter_var( $ip, FILTER_VALIDATE_IP ) ? '' : $ip;
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
	 * Count one submission attempt of $owner, accepted or not, before anything is sent to the service; refuse it
	 * (without counting it) when the owner already made the per-user limit's number of attempts this hour.
	 *
	 * Every attempt counts because a junk or oversized request costs the service as much as a good one. The row is
	 * written first and counted after, so concurrent requests cannot all slip in under the limit.
	 *
	 * @param array<string, mixed> $owner Owner.
	 * @return true|WP_Error WP_Error with status 429 and data retry_after (seconds).
	 */
	public static function count_attempt( $owner ) {
		$limit = self::limit( $owner );
		if ( $limit <= 0 ) {
			return true;
		}
		$id     = PraisonAI_Chatbot_Attempts::add( $owner );
		$recent = PraisonAI_Chatbot_Attempts::recent( $owner, HOUR_IN_SECONDS );
		if ( $recent['count'] <= $limit ) {
			return true;
		}
		PraisonAI_Chatbot_Attempts::remove( $id );
		return self::limit_reached( $limit, $recent['oldest'] );
	}

	/**
	 * Refuse when the owner reached the per-user limit, without counting anything (mode B's token route: the
	 * browser then submits to the service itself).
	 *
	 * @param array<string, mixed> $owner Owner.
	 * @return true|WP_Error WP_Error with status 429 and data retry_after (seconds).
	 */
	public static function check_limit( $owner ) {
		$limit = self::limit( $owner );
		if ( $limit <= 0 ) {
			return true;
		}
		$recent = PraisonAI_Chatbot_Attempts::recent( $owner, HOUR_IN_SECONDS );
		return $recent['count'] < $limit ? true : self::limit_reached( $limit, $recent['oldest'] );
	}

	/**
	 * The per-user limit (submissions per hour; 0 means no limit).
	 *
	 * @param array<string, mixed> $owner Owner.
	 * @return int
	 */
	private static function limit( $owner ) {
		$limit = (int) PraisonAI_Chatbot_Options::get( 'user_limit' );
		/** Filters the per-user limit (submissions per hour) for this owner; 0 means unlimited. */
		return (int) apply_filters( 'praisonai_chatbot_user_limit', $limit, $owner );
	}

	/**
	 * The 429 answer of the per-user limit.
	 *
	 * @param int $limit  Submissions per hour.
	 * @param int $oldest Unix time of the oldest attempt in the window.
	 * @return WP_Error
	 */
	private static function limit_reached( $limit, $oldest ) {
		$retry = max( 1, $oldest + HOUR_IN_SECONDS - time() );
		return new WP_Error(
			'praisonai_limit_reached',
			sprintf(
				/* translators: 1: requests per hour, 2: minutes to wait. */
				_n(
					'You have reached the limit of %1$d request per hour. Please try again in %2$d minutes.',
					'You have reached the limit of %1$d requests per hour. Please try again in %2$d minutes.',
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
