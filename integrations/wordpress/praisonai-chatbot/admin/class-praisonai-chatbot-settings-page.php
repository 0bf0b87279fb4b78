<?php
/**
 * Settings → PraisonAI Chatbot.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The settings page (Settings API: options.php handles the nonce and capability) and the connection test.
 */
final class PraisonAI_Chatbot_Settings_Page {

	const SLUG  = 'praisonai-chatbot';
	const GROUP = 'praisonai_chatbot';

	/**
	 * Hooks.
	 */
	public static function boot() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( __CLASS__, 'register' ) );
		add_action( 'admin_post_praisonai_chatbot_test', array( __CLASS__, 'test_connection' ) );
	}

	/**
	 * The menu entry.
	 */
	public static function menu() {
		add_options_page(
			__( 'PraisonAI Chatbot', 'praisonai-chatbot' ),
			__( 'PraisonAI Chatbot', 'praisonai-chatbot' ),
			'manage_options',
			self::SLUG,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * The setting, its sections and fields.
	 */
	public static function register() {
		register_setting(
			self::GROUP,
			PraisonAI_Chatbot_Options::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( 'PraisonAI_Chatbot_Options', 'sanitize' ),
				'default'           => PraisonAI_Chatbot_Options::defaults(),
				'show_in_rest'      => false,
			)
		);
		add_settings_section( 'praisonai_chatbot_service', __( 'Service', 'praisonai-chatbot' ), array( __CLASS__, 'service_intro' ), self::SLUG );
		add_settings_section( 'praisonai_chatbot_access', __( 'Who may use the chat', 'praisonai-chatbot' ), '__return_false', self::SLUG );

		$fields = array(
			'service_url'         => array( __( 'Service URL', 'praisonai-chatbot' ), 'praisonai_chatbot_service' ),
			'api_key'             => array( __( 'API key', 'praisonai-chatbot' ), 'praisonai_chatbot_service' ),
			'default_service'     => array( __( 'Default service', 'praisonai-chatbot' ), 'praisonai_chatbot_service' ),
			'mode'                => array( __( 'Connection mode', 'praisonai-chatbot' ), 'praisonai_chatbot_service' ),
			'jwt_secret'          => array( __( 'JWT secret (direct mode)', 'praisonai-chatbot' ), 'praisonai_chatbot_service' ),
			'poll_budget_minutes' => array( __( 'Follow a job for', 'praisonai-chatbot' ), 'praisonai_chatbot_service' ),
			'access'              => array( __( 'Access', 'praisonai-chatbot' ), 'praisonai_chatbot_access' ),
			'user_limit'          => array( __( 'Per-user limit', 'praisonai-chatbot' ), 'praisonai_chatbot_access' ),
		);
		foreach ( $fields as $name => $field ) {
			add_settings_field(
				'praisonai_chatbot_' . $name,
				$field[0],
				array( __CLASS__, 'field_' . $name ),
				self::SLUG,
				$field[1],
				array( 'label_for' => 'praisonai_chatbot_' . $name )
			);
		}
	}

	/**
	 * The page.
	 */
	public static function render() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'praisonai-chatbot' ), 403 );
		}
		self::show_test_result();
		?>
		<div class="wrap praisonai-chatbot-settings">
			<h1><?php esc_html_e( 'PraisonAI Chatbot', 'praisonai-chatbot' ); ?></h1>
			<form action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post">
				<?php
				settings_fields( self::GROUP );
				do_settings_sections( self::SLUG );
				submit_button();
				?>
			</form>
			<hr>
			<h2><?php esc_html_e( 'Check the connection', 'praisonai-chatbot' ); ?></h2>
			<p><?php esc_html_e( 'Asks the service for its health and the services it runs, using the saved settings.', 'praisonai-chatbot' ); ?></p>
			<form action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" method="post">
				<input type="hidden" name="action" value="praisonai_chatbot_test">
				<?php wp_nonce_field( 'praisonai_chatbot_test' ); ?>
				<?php submit_button( __( 'Test connection', 'praisonai-chatbot' ), 'secondary', 'praisonai-chatbot-test', false ); ?>
			</form>
			<hr>
			<h2><?php esc_html_e( 'Use it', 'praisonai-chatbot' ); ?></h2>
			<p>
				<?php esc_html_e( 'Put the chat on any page or post with this shortcode:', 'praisonai-chatbot' ); ?>
				<code>[praisonai_chatbot service="<?php echo esc_html( PraisonAI_Chatbot_Options::get( 'default_service' ) ); ?>"]</code>
			</p>
			<p>
				<?php esc_html_e( 'Show users their own jobs with:', 'praisonai-chatbot' ); ?>
				<code>[praisonai_chatbot_history]</code>
				<?php
				printf(
					/* translators: %s: link to the jobs page. */
					esc_html__( 'Every job is listed under %s.', 'praisonai-chatbot' ),
					'<a href="' . esc_url( admin_url( 'index.php?page=' . PraisonAI_Chatbot_Jobs_Page::SLUG ) ) . '">' . esc_html__( 'Dashboard → PraisonAI Jobs', 'praisonai-chatbot' ) . '</a>'
				);
				?>
			</p>
		</div>
		<?php
	}

	/**
	 * Intro of the service section.
	 */
	public static function service_intro() {
		echo '<p>' . esc_html__( 'Where the praisonai-svc service runs and how this site talks to it. The API key and the JWT secret stay on this server: they are never shown again and never sent to browsers.', 'praisonai-chatbot' ) . '</p>';
	}

	/**
	 * Service URL field.
	 */
	public static function field_service_url() {
		self::input( 'url', 'service_url', PraisonAI_Chatbot_Options::get( 'service_url' ), 'regular-text code', 'https://ppt.example.com' );
		self::description( __( 'Base URL of the service, without /jobs.', 'praisonai-chatbot' ) );
	}

	/**
	 * API key field (write-only).
	 */
	public static function field_api_key() {
		self::secret_field( 'api_key', __( 'Sent as X-API-Key by this server. Best a key from the service\'s PRAISONAI_SITE_KEYS: the service then limits each visitor on their own (a key from PRAISONAI_API_KEY works too, but all visitors share one limit).', 'praisonai-chatbot' ) );
	}

	/**
	 * Default service field.
	 */
	public static function field_default_service() {
		self::input( 'text', 'default_service', PraisonAI_Chatbot_Options::get( 'default_service' ), 'regular-text code', 'ppt' );
		self::description( __( 'Used by shortcodes without a service="..." attribute.', 'praisonai-chatbot' ) );
	}

	/**
	 * Mode radios.
	 */
	public static function field_mode() {
		$mode = PraisonAI_Chatbot_Options::get( 'mode' );
		echo '<fieldset id="praisonai_chatbot_mode"><legend class="screen-reader-text">' . esc_html__( 'Connection mode', 'praisonai-chatbot' ) . '</legend>';
		self::radio( 'mode', PraisonAI_Chatbot_Options::MODE_PROXY, $mode, __( 'A: through this site (REST proxy, recommended). Browsers talk only to WordPress; no CORS needed.', 'praisonai-chatbot' ) );
		self::radio( 'mode', PraisonAI_Chatbot_Options::MODE_DIRECT, $mode, __( 'B: browsers call the service directly with a 5-minute token signed by this site (HS256 JWT). The service must accept the JWT secret and allow this site in its CORS origins.', 'praisonai-chatbot' ) );
		echo '</fieldset>';
	}

	/**
	 * JWT secret field (write-only).
	 */
	public static function field_jwt_secret() {
		/* translators: %d: minimum length. */
		self::secret_field( 'jwt_secret', sprintf( __( 'Shared with the service; at least %d characters (for example the output of openssl rand -hex 32).', 'praisonai-chatbot' ), PraisonAI_Chatbot_Options::MIN_SECRET_LENGTH ) );
	}

	/**
	 * Poll budget field.
	 */
	public static function field_poll_budget_minutes() {
		self::input( 'number', 'poll_budget_minutes', PraisonAI_Chatbot_Options::get( 'poll_budget_minutes' ), 'small-text', '15', array( 'min' => 1, 'max' => 1440 ) );
		echo ' ' . esc_html__( 'minutes', 'praisonai-chatbot' );
		self::description( __( 'How long the widget keeps checking a job (every 5 seconds): the service\'s job time limit plus the longest a job may wait in the queue.', 'praisonai-chatbot' ) );
	}

	/**
	 * Access radios.
	 */
	public static function field_access() {
		$access = PraisonAI_Chatbot_Options::get( 'access' );
		echo '<fieldset id="praisonai_chatbot_access"><legend class="screen-reader-text">' . esc_html__( 'Access', 'praisonai-chatbot' ) . '</legend>';
		self::radio( 'access', PraisonAI_Chatbot_Options::ACCESS_LOGGED_IN, $access, __( 'Logged-in users only', 'praisonai-chatbot' ) );
		self::radio( 'access', PraisonAI_Chatbot_Options::ACCESS_EVERYONE, $access, __( 'Everyone, including visitors who are not logged in', 'praisonai-chatbot' ) );
		echo '</fieldset>';
	}

	/**
	 * Per-user limit field.
	 */
	public static function field_user_limit() {
		self::input( 'number', 'user_limit', PraisonAI_Chatbot_Options::get( 'user_limit' ), 'small-text', '10', array( 'min' => 0, 'max' => 10000 ) );
		echo ' ' . esc_html__( 'requests per hour (every attempt counts, accepted or not)', 'praisonai-chatbot' );
		self::description( __( 'Per user (per address for visitors). 0 means no limit.', 'praisonai-chatbot' ) );
	}

	/**
	 * admin-post.php?action=praisonai_chatbot_test: GET /health with the saved settings, then back to the page.
	 */
	public static function test_connection() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'praisonai-chatbot' ), 403 );
		}
		check_admin_referer( 'praisonai_chatbot_test' );
		$health = PraisonAI_Chatbot_Client::from_settings()->health();
		if ( is_wp_error( $health ) ) {
			$result = array(
				'ok'      => false,
				'message' => $health->get_error_message(),
			);
		} else {
			$services = isset( $health['services'] ) && is_array( $health['services'] ) ? array_map( 'strval', $health['services'] ) : array();
			$result   = array(
				'ok'      => true,
				'message' => sprintf(
					/* translators: 1: app name, 2: version, 3: comma-separated service names. */
					__( 'Connected to %1$s %2$s. Services: %3$s.', 'praisonai-chatbot' ),
					isset( $health['app'] ) ? (string) $health['app'] : 'praisonai-svc',
					isset( $health['version'] ) ? (string) $health['version'] : '',
					$services ? implode( ', ', $services ) : __( 'none', 'praisonai-chatbot' )
				),
			);
		}
		set_transient( 'praisonai_chatbot_test_' . get_current_user_id(), $result, MINUTE_IN_SECONDS );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::SLUG ) );
		exit;
	}

	/**
	 * The connection test's result, once.
	 */
	private static function show_test_result() {
		$key    = 'praisonai_chatbot_test_' . get_current_user_id();
		$result = get_transient( $key );
		if ( ! is_array( $result ) ) {
			return;
		}
		delete_transient( $key );
		printf(
			'<div class="notice %1$s is-dismissible praisonai-chatbot-test-result"><p>%2$s</p></div>',
			esc_attr( $result['ok'] ? 'notice-success' : 'notice-error' ),
			esc_html( $result['message'] )
		);
	}

	/**
	 * A write-only secret: an empty password field, whether one is stored, and a "remove" checkbox.
	 *
	 * @param string $name        Setting name.
	 * @param string $description Help text.
	 */
	private static function secret_field( $name, $description ) {
		$stored      = '' !== (string) PraisonAI_Chatbot_Options::get( $name );
		$placeholder = $stored ? __( 'Stored — leave empty to keep it', 'praisonai-chatbot' ) : __( 'Not set', 'praisonai-chatbot' );
		self::input( 'password', $name, '', 'regular-text', $placeholder, array( 'autocomplete' => 'new-password' ) );
		echo '<p class="praisonai-chatbot-secret-state">' . ( $stored
			? '<span class="dashicons dashicons-lock" aria-hidden="true"></span> ' . esc_html__( 'A value is stored (hidden).', 'praisonai-chatbot' )
			: esc_html__( 'Nothing stored.', 'praisonai-chatbot' ) ) . '</p>';
		if ( $stored ) {
			printf(
				'<label><input type="checkbox" name="%1$s[clear_%2$s]" value="1"> %3$s</label>',
				esc_attr( PraisonAI_Chatbot_Options::OPTION ),
				esc_attr( $name ),
				esc_html__( 'Remove the stored value', 'praisonai-chatbot' )
			);
		}
		self::description( $description );
	}

	/**
	 * An <input> bound to a setting.
	 *
	 * @param string               $type        Input type.
	 * @param string               $name        Setting name.
	 * @param mixed                $value       Current value.
	 * @param string               $classes     CSS classes.
	 * @param string               $placeholder Placeholder.
	 * @param array<string, mixed> $extra       More attributes.
	 */
	private static function input( $type, $name, $value, $classes, $placeholder, $extra = array() ) {
		$attributes = '';
		foreach ( $extra as $attribute => $attribute_value ) {
			$attributes .= ' ' . esc_attr( $attribute ) . '="' . esc_attr( $attribute_value ) . '"';
		}
		printf(
			'<input type="%1$s" id="praisonai_chatbot_%2$s" name="%3$s[%2$s]" value="%4$s" class="%5$s" placeholder="%6$s"%7$s>',
			esc_attr( $type ),
			esc_attr( $name ),
			esc_attr( PraisonAI_Chatbot_Options::OPTION ),
			esc_attr( (string) $value ),
			esc_attr( $classes ),
			esc_attr( $placeholder ),
			$attributes // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped above.
		);
	}

	/**
	 * A radio button bound to a setting.
	 *
	 * @param string $name    Setting name.
	 * @param string $value   This button's value.
	 * @param string $current Current value.
	 * @param string $label   Label.
	 */
	private static function radio( $name, $value, $current, $label ) {
		printf(
			'<label class="praisonai-chatbot-radio"><input type="radio" name="%1$s[%2$s]" value="%3$s"%4$s> %5$s</label><br>',
			esc_attr( PraisonAI_Chatbot_Options::OPTION ),
			esc_attr( $name ),
			esc_attr( $value ),
			checked( $current, $value, false ),
			esc_html( $label )
		);
	}

	/**
	 * Field help text.
	 *
	 * @param string $text Text.
	 */
	private static function description( $text ) {
		echo '<p class="description">' . esc_html( $text ) . '</p>';
	}
}
