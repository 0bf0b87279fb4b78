<?php
/**
 * The jobs table: one row per job a user (or visitor) submitted, for history, ownership and limits.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Data access for {prefix}praisonai_chatbot_jobs. The service is the source of truth for a job; this table
 * remembers who submitted which job and the status last seen.
 */
final class PraisonAI_Chatbot_Jobs {

	const DB_VERSION        = '2';
	const DB_VERSION_OPTION = 'praisonai_chatbot_db_version';

	const TERMINAL = array( 'done', 'error' );

	/**
	 * Table name with the site's prefix.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'praisonai_chatbot_jobs';
	}

	/**
	 * Create or upgrade the jobs table and the attempts log (dbDelta is idempotent).
	 */
	public static function install() {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$table   = self::table();
		$charset = $wpdb->get_charset_collate();
		dbDelta(
			"CREATE TABLE {$table} (
			id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
			job_id varchar(64) NOT NULL,
			user_id bigint(20) unsigned NOT NULL DEFAULT 0,
			visitor char(64) NOT NULL DEFAULT '',
			ip_hash char(64) NOT NULL DEFAULT '',
			service varchar(64) NOT NULL DEFAULT '',
			status varchar(20) NOT NULL DEFAULT 'queued',
			error_msg text NULL,
			filename varchar(255) NOT NULL DEFAULT '',
			created datetime NOT NULL,
			updated datetime NOT NULL,
			PRIMARY KEY  (id),
			KEY job_id (job_id),
			KEY user_created (user_id,created),
			KEY ip_created (ip_hash,created)
			) {$charset};"
		);
		dbDelta( PraisonAI_Chatbot_Attempts::schema( $charset ) );
		update_option( self::DB_VERSION_OPTION, self::DB_VERSION ); // autoloaded: read on every request
	}

	/**
	 * Upgrade the table after the plugin files were replaced without re-activation.
	 */
	public static function maybe_upgrade() {
		if ( get_option( self::DB_VERSION_OPTION ) !== self::DB_VERSION ) {
			self::install();
		}
	}

	/**
	 * Remember that $owner submitted $job (once per owner and job: an idempotent resubmission adds no row).
	 *
	 * @param array<string, mixed> $owner   See PraisonAI_Chatbot_Access::current_owner().
	 * @param string               $service Service name.
	 * @param array<string, mixed> $job     Job body from the service.
	 */
	public static function record( $owner, $service, $job ) {
		global $wpdb;
		$job_id = (string) $job['job_id'];
		if ( null !== self::find( $job_id, $owner ) ) {
			self::update_from_job( $job );
			return;
		}
		$now = current_time( 'mysql', true );
		$wpdb->insert( // phpcs:ignore WordPress.DB.DirectDatabaseQuery.DirectQuery
			self::table(),
			array(
				'job_id'    => $job_id,
				'user_id'   => (int) $owner['user_id'],
				'visitor'   => (string) $owner['visitor'],
				'ip_hash'   => (string) $owner['ip_hash'],
				'service'   => (string) $service,
				'status'    => self::status_of( $job ),
				'error_msg' => isset( $job['error_msg'] ) ? (string) $job['error_msg'] : null,
				'filename'  => isset( $job['filename'] ) ? (string) $job['filename'] : '',
				'created'   => $now,
				'updated'   => $now,
			),
			array( '%s', '%d', '%s', '%s', '%s', '%s', '%s', '%s', '%s', '%s' )
		);
	}

	/**
	 * The row of $job_id submitted by $owner, or null: the ownership check of every read.
	 *
	 * @param string               $job_id Job id.
	 * @param array<string, mixed> $owner  Owner; null owner means any row (administrators).
	 * @return object|null
	 */
	public static function find( $job_id, $owner ) {
		global $wpdb;
		$table = self::table();
		if ( null === $owner ) {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			return $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE job_id = %s ORDER BY id LIMIT 1", $job_id ) );
		}
		if ( (int) $owner['user_id'] > 0 ) {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			return $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE job_id = %s AND user_id = %d LIMIT 1", $job_id, $owner['user_id'] ) );
		}
		if ( '' === (string) $owner['visitor'] ) {
			return null;
		}
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE job_id = %s AND user_id = 0 AND visitor = %s LIMIT 1", $job_id, $owner['visitor'] ) );
	}

	/**
	 * Store the status the service reported (on every row of that job: several users may share an idempotent job).
	 *
	 * @param array<string, mixed> $job Job body from the service.
	 */
	public static function update_from_job( $job ) {
		global $wpdb;
		if ( empty( $job['job_id'] ) ) {
			return;
		}
		$wpdb->update( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			self::table(),
			array(
				'status'    => self::status_of( $job ),
				'error_msg' => isset( $job['error_msg'] ) ? (string) $job['error_msg'] : null,
				'filename'  => isset( $job['filename'] ) ? (string) $job['filename'] : '',
				'updated'   => current_time( 'mysql', true ),
			),
			array( 'job_id' => (string) $job['job_id'] ),
			array( '%s', '%s', '%s', '%s' ),
			array( '%s' )
		);
	}

	/**
	 * A page of jobs, newest first.
	 *
	 * @param array<string, mixed>|null $owner    Whose jobs; null for everyone's.
	 * @param int                       $page     1-based page.
	 * @param int                       $per_page Rows per page.
	 * @return array{rows: object[], total: int}
	 */
	public static function page( $owner, $page, $per_page ) {
		global $wpdb;
		$table  = self::table();
		$offset = max( 0, ( (int) $page - 1 ) * (int) $per_page );
		if ( null === $owner ) {
			$where = $wpdb->prepare( '1 = %d', 1 );
		} elseif ( (int) $owner['user_id'] > 0 ) {
			$where = $wpdb->prepare( 'user_id = %d', $owner['user_id'] );
		} else {
			$where = $wpdb->prepare( 'user_id = 0 AND visitor = %s AND visitor <> %s', $owner['visitor'], '' );
		}
		// phpcs:disable WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$rows  = $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} WHERE {$where} ORDER BY created DESC, id DESC LIMIT %d OFFSET %d", $per_page, $offset ) );
		$total = (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$table} WHERE {$where}" );
		// phpcs:enable
		return array(
			'rows'  => $rows ? $rows : array(),
			'total' => $total,
		);
	}

	/**
	 * Usage figures for the dashboard.
	 *
	 * @return array<string, mixed>
	 */
	public static function stats() {
		global $wpdb;
		$table = self::table();
		$day   = gmdate( 'Y-m-d H:i:s', time() - DAY_IN_SECONDS );
		$week  = gmdate( 'Y-m-d H:i:s', time() - WEEK_IN_SECONDS );
		// phpcs:disable WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$stats = array(
			'total'     => (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$table}" ),
			'last_day'  => (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE created > %s", $day ) ),
			'last_week' => (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE created > %s", $week ) ),
			'users'     => (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(DISTINCT user_id) FROM {$table} WHERE user_id > 0 AND created > %s", $week ) ),
			'by_status' => array(),
		);
		$rows  = $wpdb->get_results( "SELECT status, COUNT(*) AS n FROM {$table} GROUP BY status" );
		// phpcs:enable
		foreach ( (array) $rows as $row ) {
			$stats['by_status'][ $row->status ] = (int) $row->n;
		}
		return $stats;
	}

	/**
	 * Jobs per UTC day over the last $days days, oldest first, days without jobs included (as zeros).
	 *
	 * @param int $days How many days, today included.
	 * @return array<int, array<string, mixed>> Each: day (Y-m-d), total, done, failed.
	 */
	public static function per_day( $days ) {
		global $wpdb;
		$table = self::table();
		$since = gmdate( 'Y-m-d 00:00:00', time() - ( $days - 1 ) * DAY_IN_SECONDS );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$rows   = $wpdb->get_results( $wpdb->prepare( "SELECT DATE(created) AS day, COUNT(*) AS total, SUM(status = 'done') AS done, SUM(status = 'error') AS failed FROM {$table} WHERE created >= %s GROUP BY DATE(created)", $since ) );
		$by_day = array();
		foreach ( (array) $rows as $row ) {
			$by_day[ (string) $row->day ] = $row;
		}
		$series = array();
		for ( $offset = $days - 1; $offset >= 0; $offset-- ) {
			$day      = gmdate( 'Y-m-d', time() - $offset * DAY_IN_SECONDS );
			$row      = isset( $by_day[ $day ] ) ? $by_day[ $day ] : null;
			$series[] = array(
				'day'    => $day,
				'total'  => $row ? (int) $row->total : 0,
				'done'   => $row ? (int) $row->done : 0,
				'failed' => $row ? (int) $row->failed : 0,
			);
		}
		return $series;
	}

	/**
	 * The most active users over the last $days days (visitors together as user 0), busiest first.
	 *
	 * @param int $days  How many days, today included.
	 * @param int $limit How many users at most.
	 * @return array<int, array<string, int>> Each: user_id, total, failed.
	 */
	public static function top_users( $days, $limit ) {
		global $wpdb;
		$table = self::table();
		$since = gmdate( 'Y-m-d 00:00:00', time() - ( $days - 1 ) * DAY_IN_SECONDS );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$rows  = $wpdb->get_results( $wpdb->prepare( "SELECT user_id, COUNT(*) AS total, SUM(status = 'error') AS failed FROM {$table} WHERE created >= %s GROUP BY user_id ORDER BY total DESC, user_id ASC LIMIT %d", $since, $limit ) );
		$users = array();
		foreach ( (array) $rows as $row ) {
			$users[] = array(
				'user_id' => (int) $row->user_id,
				'total'   => (int) $row->total,
				'failed'  => (int) $row->failed,
			);
		}
		return $users;
	}

	/**
	 * Whether a stored status is final.
	 *
	 * @param string $status Status.
	 * @return bool
	 */
	public static function is_terminal( $status ) {
		return in_array( $status, self::TERMINAL, true );
	}

	/**
	 * The job's status if it is one we know, else "queued".
	 *
	 * @param array<string, mixed> $job Job body.
	 * @return string
	 */
	private static function status_of( $job ) {
		$status = isset( $job['status'] ) ? (string) $job['status'] : 'queued';
		return in_array( $status, array( 'queued', 'processing', 'done', 'error', 'cancelled' ), true ) ? $status : 'queued';
	}
}
