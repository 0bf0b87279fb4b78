<?php
/**
 * Dashboard → PraisonAI Usage: jobs per day with a chart, failures, and the most active users (administrators).
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The usage page. The chart is an SVG drawn here on the server: no JavaScript library to bundle, nothing loaded
 * from elsewhere, and it prints and scales like the rest of the page.
 */
final class PraisonAI_Chatbot_Usage_Page {

	const SLUG   = 'praisonai-chatbot-usage';
	const DAYS   = 14;
	const TOP    = 10;
	const WIDTH  = 720;
	const HEIGHT = 220;

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
	 * The menu entry, for administrators only (the page shows every user's activity).
	 */
	public static function menu() {
		self::$hook = (string) add_dashboard_page(
			__( 'PraisonAI Usage', 'praisonai-chatbot' ),
			__( 'PraisonAI Usage', 'praisonai-chatbot' ),
			'manage_options',
			self::SLUG,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * Styles on this page only.
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
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to view this page.', 'praisonai-chatbot' ), 403 );
		}
		$days   = PraisonAI_Chatbot_Jobs::per_day( self::DAYS );
		$users  = PraisonAI_Chatbot_Jobs::top_users( self::DAYS, self::TOP );
		$total  = array_sum( wp_list_pluck( $days, 'total' ) );
		$failed = array_sum( wp_list_pluck( $days, 'failed' ) );
		echo '<div class="wrap praisonai-usage-page">';
		echo '<h1>' . esc_html__( 'PraisonAI Usage', 'praisonai-chatbot' ) . '</h1>';
		/* translators: %d: number of days. */
		echo '<p>' . esc_html( sprintf( __( 'Jobs submitted through this site in the last %d days (UTC).', 'praisonai-chatbot' ), self::DAYS ) ) . '</p>';
		echo '<ul class="praisonai-usage-summary">';
		echo '<li>' . esc_html__( 'Jobs', 'praisonai-chatbot' ) . ': <strong data-figure="total">' . esc_html( number_format_i18n( $total ) ) . '</strong></li>';
		echo '<li>' . esc_html__( 'Failed', 'praisonai-chatbot' ) . ': <strong data-figure="failed">' . esc_html( number_format_i18n( $failed ) ) . '</strong></li>';
		echo '<li>' . esc_html__( 'Users', 'praisonai-chatbot' ) . ': <strong data-figure="users">' . esc_html( number_format_i18n( count( $users ) ) ) . '</strong></li>';
		echo '</ul>';
		echo '<h2>' . esc_html__( 'Jobs per day', 'praisonai-chatbot' ) . '</h2>';
		echo self::chart( $days ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped while built.
		echo '<h2>' . esc_html__( 'Most active users', 'praisonai-chatbot' ) . '</h2>';
		echo self::users_table( $users ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped while built.
		echo '</div>';
	}

	/**
	 * A bar per day, done jobs in the accent colour and failed ones in red on top, with the day and total.
	 *
	 * @param array<int, array<string, mixed>> $days From PraisonAI_Chatbot_Jobs::per_day().
	 * @return string SVG markup.
	 */
	public static function chart( array $days ) {
		$peak  = max( 1, max( wp_list_pluck( $days, 'total' ) ) );
		$slot  = self::WIDTH / max( 1, count( $days ) );
		$plot  = self::HEIGHT - 58; // 18 px above the tallest bar for its count, 40 below for the axis and dates
		$label = __( 'Jobs per day: done and failed', 'praisonai-chatbot' );
		$svg   = '<svg class="praisonai-usage-chart" role="img" viewBox="0 0 ' . self::WIDTH . ' ' . self::HEIGHT . '" width="' . self::WIDTH . '" height="' . self::HEIGHT . '" aria-label="' . esc_attr( $label ) . '">';
		$svg  .= '<line x1="0" y1="' . ( $plot + 28 ) . '" x2="' . self::WIDTH . '" y2="' . ( $plot + 28 ) . '" class="axis"/>';
		foreach ( array_values( $days ) as $index => $day ) {
			$x      = $index * $slot + $slot * 0.15;
			$width  = $slot * 0.7;
			$done   = $plot * $day['done'] / $peak;
			$failed = $plot * $day['failed'] / $peak;
			$other  = $plot * ( $day['total'] - $day['done'] - $day['failed'] ) / $peak;
			$base   = $plot + 28;
			$svg   .= '<g class="day" data-day="' . esc_attr( $day['day'] ) . '" data-total="' . (int) $day['total'] . '"><title>' . esc_html( $day['day'] . ': ' . $day['total'] ) . '</title>';
			foreach ( array( 'done' => $done, 'failed' => $failed, 'other' => $other ) as $class => $height ) {
				if ( $height > 0 ) {
					$base -= $height;
					$svg  .= sprintf( '<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>', esc_attr( $class ), $x, $base, $width, $height );
				}
			}
			if ( $day['total'] > 0 ) {
				$svg .= sprintf( '<text class="count" x="%.1f" y="%.1f">%d</text>', $x + $width / 2, $base - 4, (int) $day['total'] );
			}
			$svg .= sprintf( '<text class="date" x="%.1f" y="%d">%s</text></g>', $x + $width / 2, self::HEIGHT - 12, esc_html( gmdate( 'M j', (int) strtotime( $day['day'] ) ) ) );
		}
		$svg .= '</svg>';
		$svg .= '<p class="praisonai-usage-legend"><span class="done"></span>' . esc_html__( 'Done', 'praisonai-chatbot' ) . ' <span class="failed"></span>' . esc_html__( 'Failed', 'praisonai-chatbot' ) . ' <span class="other"></span>' . esc_html__( 'Queued or running', 'praisonai-chatbot' ) . '</p>';
		return $svg;
	}

	/**
	 * The most active users, busiest first.
	 *
	 * @param array<int, array<string, int>> $users From PraisonAI_Chatbot_Jobs::top_users().
	 * @return string Table markup.
	 */
	private static function users_table( array $users ) {
		if ( ! $users ) {
			return '<p>' . esc_html__( 'No jobs yet.', 'praisonai-chatbot' ) . '</p>';
		}
		$html  = '<table class="widefat striped praisonai-usage-users"><thead><tr><th>' . esc_html__( 'User', 'praisonai-chatbot' ) . '</th><th>' . esc_html__( 'Jobs', 'praisonai-chatbot' ) . '</th><th>' . esc_html__( 'Failed', 'praisonai-chatbot' ) . '</th></tr></thead><tbody>';
		foreach ( $users as $user ) {
			$data  = $user['user_id'] ? get_userdata( $user['user_id'] ) : false;
			$name  = $data ? $data->display_name : ( $user['user_id'] ? __( 'Deleted user', 'praisonai-chatbot' ) : __( 'Visitors', 'praisonai-chatbot' ) );
			$html .= '<tr data-user-id="' . (int) $user['user_id'] . '"><td>' . esc_html( $name ) . '</td><td>' . esc_html( number_format_i18n( $user['total'] ) ) . '</td><td>' . esc_html( number_format_i18n( $user['failed'] ) ) . '</td></tr>';
		}
		return $html . '</tbody></table>';
	}
}
