<?php
/**
 * Dashboard → PraisonAI Jobs: every job for administrators, their own for other users.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The job history dashboard with usage figures; statuses are refreshed from the service on each view and
 * download links mint a fresh signed URL when clicked.
 */
final class PraisonAI_Chatbot_Jobs_Page {

	const SLUG     = 'praisonai-chatbot-jobs';
	const PER_PAGE = 20;

	/** @var string Hook suffix of the page. */
	private static $hook = '';

	/**
	 * Hooks.
	 */
	public static function boot() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_enqueue_scripts', array( __CLASS__, 'assets' ) );
	}

	/**
	 * The menu entry (every logged-in user may see their own jobs).
	 */
	public static function menu() {
		self::$hook = (string) add_dashboard_page(
			__( 'PraisonAI Jobs', 'praisonai-chatbot' ),
			__( 'PraisonAI Jobs', 'praisonai-chatbot' ),
			'read',
			self::SLUG,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * Status badge styles on this page only.
	 *
	 * @param string $hook Current admin page.
	 */
	public static function assets( $hook ) {
		if ( $hook === self::$hook ) {
			wp_enqueue_style( 'praisonai-chatbot', PRAISONAI_CHATBOT_URL . 'assets/css/praisonai-chatbot.css', array(), PRAISONAI_CHATBOT_VERSION );
		}
	}

	/**
	 * The page.
	 */
	public static function render() {
		if ( ! current_user_can( 'read' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to view this page.', 'praisonai-chatbot' ), 403 );
		}
		$all       = PraisonAI_Chatbot_Access::can_see_all_jobs();
		$current   = isset( $_GET['paged'] ) ? max( 1, absint( $_GET['paged'] ) ) : 1; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- read-only paging.
		$page      = PraisonAI_Chatbot_Jobs::page( $all ? null : PraisonAI_Chatbot_Access::current_owner(), $current, self::PER_PAGE );
		$reachable = PraisonAI_Chatbot_History::refresh( $page['rows'] );
		echo '<div class="wrap praisonai-jobs-page">';
		echo '<h1>' . esc_html( $all ? __( 'PraisonAI Jobs', 'praisonai-chatbot' ) : __( 'My PraisonAI Jobs', 'praisonai-chatbot' ) ) . '</h1>';
		if ( ! $reachable && PraisonAI_Chatbot_Options::is_configured() ) {
			echo '<div class="notice notice-warning"><p>' . esc_html__( 'The job service could not be reached: the statuses below are the last ones seen.', 'praisonai-chatbot' ) . '</p></div>';
		}
		if ( $all ) {
			self::render_stats( PraisonAI_Chatbot_Jobs::stats() );
		}
		echo PraisonAI_Chatbot_History::render_table( $page['rows'], $all, 'widefat striped praisonai-history__table' ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped while built.
		self::render_pagination( $page['total'], $current );
		echo '</div>';
	}

	/**
	 * Usage figures.
	 *
	 * @param array<string, mixed> $stats From PraisonAI_Chatbot_Jobs::stats().
	 */
	private static function render_stats( $stats ) {
		$figures = array(
			__( 'Last 24 hours', 'praisonai-chatbot' ) => $stats['last_day'],
			__( 'Last 7 days', 'praisonai-chatbot' )   => $stats['last_week'],
			__( 'All time', 'praisonai-chatbot' )      => $stats['total'],
			__( 'Users this week', 'praisonai-chatbot' ) => $stats['users'],
		);
		foreach ( $stats['by_status'] as $status => $count ) {
			$figures[ PraisonAI_Chatbot_History::status_label( $status ) ] = $count;
		}
		echo '<h2 class="screen-reader-text">' . esc_html__( 'Usage', 'praisonai-chatbot' ) . '</h2><ul class="subsubsub praisonai-usage">';
		$items = array();
		foreach ( $figures as $label => $count ) {
			$items[] = '<li>' . esc_html( $label ) . ': <strong>' . esc_html( number_format_i18n( (int) $count ) ) . '</strong></li>';
		}
		echo implode( ' | ', $items ) . '</ul><br class="clear">'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped above.
	}

	/**
	 * Page links.
	 *
	 * @param int $total   Rows in all.
	 * @param int $current Current page.
	 */
	private static function render_pagination( $total, $current ) {
		$pages = (int) ceil( $total / self::PER_PAGE );
		if ( $pages < 2 ) {
			return;
		}
		$links = paginate_links(
			array(
				'base'    => add_query_arg( 'paged', '%#%' ),
				'format'  => '',
				'current' => $current,
				'total'   => $pages,
			)
		);
		echo '<div class="tablenav"><div class="tablenav-pages">' . wp_kses_post( $links ) . '</div></div>';
	}
}
