<?php
/**
 * Job history: the table shared by wp-admin and the [praisonai_chatbot_history] shortcode, status refresh, and
 * the download handler that mints a fresh signed link on every click.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * History views and downloads.
 */
final class PraisonAI_Chatbot_History {

	/** At most this many unfinished jobs are asked about per page view, so a page never waits long on the service. */
	const REFRESH_LIMIT = 20;

	/**
	 * Ask the service for the state of the unfinished jobs among $rows, updating them in place and in the table.
	 *
	 * @param object[] $rows Rows from PraisonAI_Chatbot_Jobs::page().
	 * @return bool False when the service could not be reached (the stored statuses are shown).
	 */
	public static function refresh( array $rows ) {
		if ( ! PraisonAI_Chatbot_Options::is_configured() ) {
			return false;
		}
		$client = PraisonAI_Chatbot_Client::from_settings();
		$asked  = 0;
		$seen   = array();
		foreach ( $rows as $row ) {
			if ( PraisonAI_Chatbot_Jobs::is_terminal( $row->status ) || $asked >= self::REFRESH_LIMIT ) {
				continue;
			}
			if ( ! isset( $seen[ $row->job_id ] ) ) {
				++$asked;
				$job = $client->job( $row->job_id );
				if ( is_wp_error( $job ) ) {
					if ( 'praisonai_unreachable' === $job->get_error_code() ) {
						return false;
					}
					continue;
				}
				PraisonAI_Chatbot_Jobs::update_from_job( $job );
				$seen[ $row->job_id ] = $job;
			}
			$job            = $seen[ $row->job_id ];
			$row->status    = (string) $job['status'];
			$row->error_msg = isset( $job['error_msg'] ) ? (string) $job['error_msg'] : null;
			$row->filename  = isset( $job['filename'] ) ? (string) $job['filename'] : '';
		}
		return true;
	}

	/**
	 * The link that mints a fresh signed download URL when followed (nonce-protected, owner-checked).
	 *
	 * @param string $job_id Job id.
	 * @return string
	 */
	public static function download_url( $job_id ) {
		return wp_nonce_url(
			add_query_arg(
				array(
					'action' => 'praisonai_chatbot_download',
					'job'    => $job_id,
				),
				admin_url( 'admin-post.php' )
			),
			'praisonai_chatbot_download_' . $job_id
		);
	}

	/**
	 * admin-post.php?action=praisonai_chatbot_download: redirect to a freshly signed link.
	 */
	public static function handle_download() {
		$job_id = isset( $_GET['job'] ) ? sanitize_key( wp_unslash( $_GET['job'] ) ) : '';
		$nonce  = isset( $_GET['_wpnonce'] ) ? sanitize_text_field( wp_unslash( $_GET['_wpnonce'] ) ) : '';
		if ( ! preg_match( '/^[a-f0-9]{8,64}$/', $job_id ) || ! wp_verify_nonce( $nonce, 'praisonai_chatbot_download_' . $job_id ) ) {
			wp_die( esc_html__( 'This download link has expired. Reload the page and try again.', 'praisonai-chatbot' ), '', array( 'response' => 403, 'back_link' => true ) );
		}
		$all = PraisonAI_Chatbot_Access::can_see_all_jobs();
		if ( ! $all && ! PraisonAI_Chatbot_Access::can_use() ) {
			wp_die( esc_html__( 'Please log in to download your files.', 'praisonai-chatbot' ), '', array( 'response' => 403, 'back_link' => true ) );
		}
		$owner = $all ? null : PraisonAI_Chatbot_Access::current_owner();
		if ( null === PraisonAI_Chatbot_Jobs::find( $job_id, $owner ) ) {
			wp_die( esc_html__( 'No such job.', 'praisonai-chatbot' ), '', array( 'response' => 404, 'back_link' => true ) );
		}
		$link = PraisonAI_Chatbot_Client::from_settings()->download_link( $job_id );
		if ( is_wp_error( $link ) ) {
			$data = (array) $link->get_error_data();
			wp_die( esc_html( $link->get_error_message() ), '', array( 'response' => isset( $data['status'] ) ? (int) $data['status'] : 502, 'back_link' => true ) );
		}
		nocache_headers();
		wp_redirect( $link['download_url'], 303, 'PraisonAI Chatbot' ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect -- the configured service's own host.
		exit;
	}

	/**
	 * Human label of a status.
	 *
	 * @param string $status Status.
	 * @return string
	 */
	public static function status_label( $status ) {
		$labels = array(
			'queued'     => __( 'Queued', 'praisonai-chatbot' ),
			'processing' => __( 'Processing', 'praisonai-chatbot' ),
			'done'       => __( 'Done', 'praisonai-chatbot' ),
			'error'      => __( 'Failed', 'praisonai-chatbot' ),
			'cancelled'  => __( 'Cancelled', 'praisonai-chatbot' ),
		);
		return isset( $labels[ $status ] ) ? $labels[ $status ] : $status;
	}

	/**
	 * The history table.
	 *
	 * @param object[] $rows      Rows.
	 * @param bool     $show_user Whether to show who submitted each job.
	 * @param string   $classes   Table classes.
	 * @return string HTML
	 */
	public static function render_table( array $rows, $show_user, $classes ) {
		if ( empty( $rows ) ) {
			return '<p class="praisonai-history__empty">' . esc_html__( 'No jobs yet.', 'praisonai-chatbot' ) . '</p>';
		}
		$html  = '<table class="' . esc_attr( $classes ) . '"><thead><tr>';
		$html .= '<th scope="col">' . esc_html__( 'Job', 'praisonai-chatbot' ) . '</th>';
		if ( $show_user ) {
			$html .= '<th scope="col">' . esc_html__( 'User', 'praisonai-chatbot' ) . '</th>';
		}
		$html .= '<th scope="col">' . esc_html__( 'Service', 'praisonai-chatbot' ) . '</th>';
		$html .= '<th scope="col">' . esc_html__( 'Status', 'praisonai-chatbot' ) . '</th>';
		$html .= '<th scope="col">' . esc_html__( 'Submitted', 'praisonai-chatbot' ) . '</th>';
		$html .= '<th scope="col">' . esc_html__( 'Result', 'praisonai-chatbot' ) . '</th>';
		$html .= '</tr></thead><tbody>';
		foreach ( $rows as $row ) {
			$html .= self::render_row( $row, $show_user );
		}
		return $html . '</tbody></table>';
	}

	/**
	 * One row of the history table.
	 *
	 * @param object $row       Row.
	 * @param bool   $show_user Whether to show the user column.
	 * @return string HTML
	 */
	private static function render_row( $row, $show_user ) {
		$html = '<tr data-job-id="' . esc_attr( $row->job_id ) . '">';
		$html .= '<td><code title="' . esc_attr( $row->job_id ) . '">' . esc_html( substr( $row->job_id, 0, 12 ) ) . '&hellip;</code></td>';
		if ( $show_user ) {
			$user  = $row->user_id ? get_userdata( (int) $row->user_id ) : false;
			$html .= '<td>' . esc_html( $user ? $user->display_name : __( 'Visitor', 'praisonai-chatbot' ) ) . '</td>';
		}
		$html .= '<td>' . esc_html( $row->service ) . '</td>';
		$html .= '<td><span class="praisonai-status praisonai-status--' . esc_attr( $row->status ) . '">' . esc_html( self::status_label( $row->status ) ) . '</span>';
		if ( 'error' === $row->status && ! empty( $row->error_msg ) ) {
			$html .= '<br><small class="praisonai-history__error">' . esc_html( wp_html_excerpt( $row->error_msg, 300, '&hellip;' ) ) . '</small>';
		}
		$html .= '</td>';
		$time  = strtotime( $row->created . ' UTC' );
		$html .= '<td><time datetime="' . esc_attr( gmdate( 'c', $time ) ) . '">' . esc_html( wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $time ) ) . '</time></td>';
		$html .= '<td>';
		if ( 'done' === $row->status ) {
			$html .= '<a class="button praisonai-history__download" href="' . esc_url( self::download_url( $row->job_id ) ) . '">'
				. esc_html__( 'Download', 'praisonai-chatbot' ) . '</a>';
			if ( '' !== (string) $row->filename ) {
				$html .= '<span class="praisonai-history__file">' . esc_html( $row->filename ) . '</span>';
			}
		} else {
			$html .= '&mdash;';
		}
		return $html . '</td></tr>';
	}
}
