<?php
/**
 * The plugin's settings: defaults, typed access and the sanitize callback.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * One array option holds every setting. Secrets (API key, JWT secret) are write-only: the settings page never
 * prints them, and an empty field on save keeps the stored value.
 */
final class PraisonAI_Chatbot_Options {

	const OPTION = 'praisonai_chatbot_settings';

	const MODE_PROXY  = 'proxy';
	const MODE_DIRECT = 'direct';

	const ACCESS_LOGGED_IN = 'logged_in';
	const ACCESS_EVERYONE  = 'everyone';

	/** HS256 needs a key at least as long as its output (32 bytes) to be worth anything. */
	const MIN_SECRET_LENGTH = 32;

	/**
	 * Default settings.
	 *
	 * @return array<string, mixed>
	 */
	public static function defaults() {
		return array(
			'service_url'         => '',
			'api_key'             => '',
			'default_service'     => 'ppt',
			'mode'                => self::MODE_PROXY,
			'jwt_secret'          => '',
			'access'              => self::ACCESS_LOGGED_IN,
			'user_limit'          => 10,
			'poll_budget_minutes' => 15,
		);
	}

	/**
	 * All settings, defaults filled in.
	 *
	 * @return array<string, mixed>
	 */
	public static function all() {
		$stored = get_option( self::OPTION, array() );
		return array_merge( self::defaults(), is_array( $stored ) ? $stored : array() );
	}

	/**
	 * One setting.
	 *
	 * @param string $name Setting name.
	 * @return mixed
	 */
	public static function get( $name ) {
		$all = self::all();
		return isset( $all[ $name ] ) ? $all[ $name ] : null;
	}

	/**
	 * Whether the service URL is set, i.e. the widget can work at all.
	 *
	 * @return bool
	 */
	public static function is_configured() {
		return '' !== (string) self::get( 'service_url' );
	}

	/**
	 * Sanitize callback of register_setting(); also runs on every update_option() of the option.
	 *
	 * @param mixed $input Submitted values.
	 * @return array<string, mixed>
	 */
	public static function sanitize( $input ) {
		$input = is_array( $input ) ? $input : array(); // options.php has already unslashed $_POST.
		$old   = self::all();
		$clean = self::defaults();

		$clean['service_url']         = self::sanitize_url( isset( $input['service_url'] ) ? $input['service_url'] : $old['service_url'] );
		$clean['api_key']             = self::secret( $input, 'api_key', $old['api_key'] );
		$clean['jwt_secret']          = self::secret( $input, 'jwt_secret', $old['jwt_secret'] );
		$clean['default_service']     = self::sanitize_service( isset( $input['default_service'] ) ? $input['default_service'] : $old['default_service'] );
		$clean['mode']                = self::choice( $input, 'mode', array( self::MODE_PROXY, self::MODE_DIRECT ), $old['mode'] );
		$clean['access']              = self::choice( $input, 'access', array( self::ACCESS_LOGGED_IN, self::ACCESS_EVERYONE ), $old['access'] );
		$clean['user_limit']          = self::bounded_int( $input, 'user_limit', 0, 10000, $old['user_limit'] );
		$clean['poll_budget_minutes'] = self::bounded_int( $input, 'poll_budget_minutes', 1, 1440, $old['poll_budget_minutes'] );

		if ( '' === $clean['default_service'] ) {
			$clean['default_service'] = 'ppt';
		}
		if ( self::MODE_DIRECT === $clean['mode'] && strlen( $clean['jwt_secret'] ) < self::MIN_SECRET_LENGTH ) {
			$clean['mode'] = self::MODE_PROXY;
			self::report(
				'praisonai_chatbot_jwt_secret',
				/* translators: %d: minimum number of characters. */
				sprintf( __( 'Direct mode needs a JWT secret of at least %d characters; the chat stays in proxy mode.', 'praisonai-chatbot' ), self::MIN_SECRET_LENGTH )
			);
		}
		return $clean;
	}

	/**
	 * A service base URL: http(s) only, no trailing slash.
	 *
	 * @param mixed $value Raw value.
	 * @return string
	 */
	public static function sanitize_url( $value ) {
		$value = trim( (string) $value );
		if ( '' === $value ) {
			return '';
		}
		$url = esc_url_raw( $value, array( 'http', 'https' ) );
		if ( '' === $url ) {
			self::report( 'praisonai_chatbot_service_url', __( 'The service URL must start with http:// or https://.', 'praisonai-chatbot' ) );
		}
		return untrailingslashit( $url );
	}

	/**
	 * A service name as praisonai-svc accepts it.
	 *
	 * @param mixed $value Raw value.
	 * @return string
	 */
	public static function sanitize_service( $value ) {
		return substr( preg_replace( '/[^A-Za-z0-9._-]/', '', (string) $value ), 0, 64 );
	}

	/**
	 * A write-only secret: a new value replaces it, "clear_<name>" empties it, an empty field keeps it.
	 *
	 * @param array<string, mixed> $input Submitted values.
	 * @param string               $name  Setting name.
	 * @param string               $old   Stored value.
	 * @return string
	 */
	private static function secret( $input, $name, $old ) {
		if ( ! empty( $input[ 'clear_' . $name ] ) ) {
			return '';
		}
		$value = isset( $input[ $name ] ) ? preg_replace( '/[\x00-\x20\x7F]/', '', (string) $input[ $name ] ) : '';
		return '' === $value ? (string) $old : $value;
	}

	/**
	 * One of a fixed set of values.
	 *
	 * @param array<string, mixed> $input   Submitted values.
	 * @param string               $name    Setting name.
	 * @param string[]             $allowed Allowed values.
	 * @param string               $old     Stored value.
	 * @return string
	 */
	private static function choice( $input, $name, $allowed, $old ) {
		$value = isset( $input[ $name ] ) ? (string) $input[ $name ] : (string) $old;
		return in_array( $value, $allowed, true ) ? $value : $allowed[0];
	}

	/**
	 * An integer clamped to [min, max].
	 *
	 * @param array<string, mixed> $input Submitted values.
	 * @param string               $name  Setting name.
	 * @param int                  $min   Smallest value.
	 * @param int                  $max   Largest value.
	 * @param int                  $old   Stored value.
	 * @return int
	 */
	private static function bounded_int( $input, $name, $min, $max, $old ) {
		$value = isset( $input[ $name ] ) && is_numeric( $input[ $name ] ) ? (int) $input[ $name ] : (int) $old;
		return max( $min, min( $max, $value ) );
	}

	/**
	 * Show a problem on the settings page (the function only exists in wp-admin).
	 *
	 * @param string $code    Error code.
	 * @param string $message Message for the administrator.
	 */
	private static function report( $code, $message ) {
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error( self::OPTION, $code, $message );
		}
	}
}
