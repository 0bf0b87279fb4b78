<?php
/**
 * The [praisonai_chatbot] and [praisonai_chatbot_history] shortcodes and the widget's assets.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Front-end rendering. The widget itself is vanilla JavaScript (assets/js/praisonai-chatbot.js); it gets the REST
 * root, a wp_rest nonce and translated strings, never the API key or the JWT secret.
 */
final class PraisonAI_Chatbot_Widget {

	const HANDLE = 'praisonai-chatbot';

	/** @var int Widgets rendered on this page (unique element ids). */
	private static $instances = 0;

	/** @var bool Whether the page configuration was added to the script. */
	private static $configured = false;

	/**
	 * Shortcodes and assets (init).
	 */
	public static function register() {
		add_shortcode( 'praisonai_chatbot', array( __CLASS__, 'chatbot' ) );
		add_shortcode( 'praisonai_chatbot_history', array( __CLASS__, 'history' ) );
		wp_register_style( self::HANDLE, PRAISONAI_CHATBOT_URL . 'assets/css/praisonai-chatbot.css', array(), PRAISONAI_CHATBOT_VERSION );
		wp_register_script( self::HANDLE, PRAISONAI_CHATBOT_URL . 'assets/js/praisonai-chatbot.js', array(), PRAISONAI_CHATBOT_VERSION, true );
	}

	/**
	 * [praisonai_chatbot service="ppt" title="..." sample="yes"].
	 *
	 * @param array<string, string>|string $atts Shortcode attributes.
	 * @return string HTML
	 */
	public static function chatbot( $atts ) {
		$atts    = shortcode_atts(
			array(
				'service' => '',
				'title'   => '',
				'sample'  => 'yes',
			),
			$atts,
			'praisonai_chatbot'
		);
		$service = PraisonAI_Chatbot_Options::sanitize_service( $atts['service'] );
		$service = '' === $service ? (string) PraisonAI_Chatbot_Options::get( 'default_service' ) : $service;
		$title   = '' !== $atts['title'] ? $atts['title'] : __( 'PraisonAI chat', 'praisonai-chatbot' );
		$id      = 'praisonai-chatbot-' . ( ++self::$instances );
		wp_enqueue_style( self::HANDLE );

		if ( ! PraisonAI_Chatbot_Options::is_configured() ) {
			$message = current_user_can( 'manage_options' )
				? sprintf(
					/* translators: %s: link to the settings page. */
					__( 'The chat is not set up yet. Enter the service URL in %s.', 'praisonai-chatbot' ),
					'<a href="' . esc_url( admin_url( 'options-general.php?page=' . PraisonAI_Chatbot_Settings_Page::SLUG ) ) . '">' . esc_html__( 'Settings → PraisonAI Chatbot', 'praisonai-chatbot' ) . '</a>'
				)
				: esc_html__( 'The chat is not available right now.', 'praisonai-chatbot' );
			return self::notice( $id, $title, $message );
		}
		if ( ! PraisonAI_Chatbot_Access::can_use() ) {
			$message = sprintf(
				/* translators: %s: "log in" link. */
				esc_html__( 'Please %s to use the chat.', 'praisonai-chatbot' ),
				'<a href="' . esc_url( wp_login_url( get_permalink() ) ) . '">' . esc_html__( 'log in', 'praisonai-chatbot' ) . '</a>'
			);
			return self::notice( $id, $title, $message );
		}

		self::configure_script();
		wp_enqueue_script( self::HANDLE );
		$sample = 'no' === strtolower( $atts['sample'] ) ? '' : self::sample( $service );
		$data   = array(
			'service' => $service,
			'sample'  => $sample,
		);

		ob_start();
		include PRAISONAI_CHATBOT_DIR . 'includes/views/widget.php';
		return (string) ob_get_clean();
	}

	/**
	 * [praisonai_chatbot_history limit="10"]: the current user's own jobs.
	 *
	 * @param array<string, string>|string $atts Shortcode attributes.
	 * @return string HTML
	 */
	public static function history( $atts ) {
		$atts = shortcode_atts( array( 'limit' => '10' ), $atts, 'praisonai_chatbot_history' );
		wp_enqueue_style( self::HANDLE );
		$title = '<h2 class="praisonai-history__title">' . esc_html__( 'Your jobs', 'praisonai-chatbot' ) . '</h2>';
		if ( ! PraisonAI_Chatbot_Access::can_use() ) {
			return '<section class="praisonai-history">' . $title . '<p>' . esc_html__( 'Please log in to see your jobs.', 'praisonai-chatbot' ) . '</p></section>';
		}
		$owner = PraisonAI_Chatbot_Access::current_owner();
		$page  = PraisonAI_Chatbot_Jobs::page( $owner, 1, max( 1, min( 100, (int) $atts['limit'] ) ) );
		if ( 0 === $owner['user_id'] && '' === $owner['visitor'] ) {
			$page['rows'] = array();
		}
		PraisonAI_Chatbot_History::refresh( $page['rows'] );
		return '<section class="praisonai-history">' . $title . PraisonAI_Chatbot_History::render_table( $page['rows'], false, 'praisonai-history__table' ) . '</section>';
	}

	/**
	 * A widget box that only shows a message (not configured, not allowed).
	 *
	 * @param string $id      Element id.
	 * @param string $title   Title.
	 * @param string $message Message HTML (already escaped).
	 * @return string HTML
	 */
	private static function notice( $id, $title, $message ) {
		return '<section class="praisonai-chatbot praisonai-chatbot--notice" id="' . esc_attr( $id ) . '" aria-labelledby="' . esc_attr( $id ) . '-title">'
			. '<header class="praisonai-chatbot__header"><h2 class="praisonai-chatbot__title" id="' . esc_attr( $id ) . '-title">' . esc_html( $title ) . '</h2></header>'
			. '<p class="praisonai-chatbot__notice" role="status">' . wp_kses( $message, array( 'a' => array( 'href' => array() ) ) ) . '</p>'
			. '</section>';
	}

	/**
	 * The sample request shipped for $service (samples/<service>.yaml), or ''.
	 *
	 * @param string $service Service name.
	 * @return string
	 */
	private static function sample( $service ) {
		$file = PRAISONAI_CHATBOT_DIR . 'samples/' . $service . '.yaml';
		$text = is_readable( $file ) ? (string) file_get_contents( $file ) : ''; // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents
		/** Filters the sample request offered by the "Use sample" button. */
		return (string) apply_filters( 'praisonai_chatbot_sample', $text, $service );
	}

	/**
	 * Page-wide settings for the script, once: REST root, nonce, mode, polling budget, strings.
	 */
	private static function configure_script() {
		if ( self::$configured ) {
			return;
		}
		self::$configured = true;
		$settings         = PraisonAI_Chatbot_Options::all();
		$direct           = PraisonAI_Chatbot_Options::MODE_DIRECT === $settings['mode'];
		$config           = array(
			'restRoot'       => esc_url_raw( rest_url( PraisonAI_Chatbot_REST::NAMESPACE_V1 . '/' ) ),
			'nonce'          => wp_create_nonce( 'wp_rest' ),
			'mode'           => $direct ? 'direct' : 'proxy',
			'serviceUrl'     => $direct ? $settings['service_url'] : '',
			'pollIntervalMs' => (int) apply_filters( 'praisonai_chatbot_poll_interval_ms', 5000 ),
			'pollBudgetMs'   => (int) $settings['poll_budget_minutes'] * MINUTE_IN_SECONDS * 1000,
			'maxBytes'       => PraisonAI_Chatbot_REST::MAX_DOCUMENT,
			'i18n'           => self::strings(),
		);
		wp_add_inline_script( self::HANDLE, 'window.praisonaiChatbot = ' . wp_json_encode( $config, JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES ) . ';', 'before' );
	}

	/**
	 * Translated strings for the script.
	 *
	 * @return array<string, string>
	 */
	private static function strings() {
		return array(
			'queued'         => __( 'Queued', 'praisonai-chatbot' ),
			'processing'     => __( 'Processing', 'praisonai-chatbot' ),
			'done'           => __( 'Done', 'praisonai-chatbot' ),
			'error'          => __( 'Failed', 'praisonai-chatbot' ),
			'cancelled'      => __( 'Cancelled', 'praisonai-chatbot' ),
			'sending'        => __( 'Sending your request…', 'praisonai-chatbot' ),
			'you'            => __( 'You', 'praisonai-chatbot' ),
			'bot'            => __( 'PraisonAI', 'praisonai-chatbot' ),
			'jobQueued'      => __( 'Waiting for a worker…', 'praisonai-chatbot' ),
			'jobProcessing'  => __( 'Working on it…', 'praisonai-chatbot' ),
			/* translators: %s: file name. */
			'jobDone'        => __( 'Your file %s is ready.', 'praisonai-chatbot' ),
			'jobDoneNoName'  => __( 'Your file is ready.', 'praisonai-chatbot' ),
			'jobFailed'      => __( 'The job failed.', 'praisonai-chatbot' ),
			'unknownError'   => __( 'Something went wrong. Please try again.', 'praisonai-chatbot' ),
			'download'       => __( 'Download', 'praisonai-chatbot' ),
			'preparing'      => __( 'Preparing your download…', 'praisonai-chatbot' ),
			/* translators: %d: seconds. */
			'busyRetry'      => __( 'The service is busy; checking again in %d s.', 'praisonai-chatbot' ),
			/* translators: %d: seconds. */
			'offlineRetry'   => __( 'Cannot reach the service; checking again in %d s.', 'praisonai-chatbot' ),
			'budgetExceeded' => __( 'This job is taking longer than expected. It may still finish: check your job history later.', 'praisonai-chatbot' ),
			'empty'          => __( 'Type or paste a request first.', 'praisonai-chatbot' ),
			'tooLarge'       => __( 'The request is larger than 1 MB.', 'praisonai-chatbot' ),
			'sentYaml'       => __( 'Sent a YAML request:', 'praisonai-chatbot' ),
			'sentJson'       => __( 'Sent a JSON request:', 'praisonai-chatbot' ),
			'sampleLoaded'   => __( 'Sample request loaded. Press Send to run it.', 'praisonai-chatbot' ),
			'progress'       => __( 'Progress', 'praisonai-chatbot' ),
			'cancel'         => __( 'Cancel', 'praisonai-chatbot' ),
			'cancelling'     => __( 'Cancelling…', 'praisonai-chatbot' ),
			'jobCancelled'   => __( 'The job was cancelled.', 'praisonai-chatbot' ),
		);
	}
}
