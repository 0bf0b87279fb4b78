<?php
/**
 * The attempts log: one row per submission a user (or visitor address) made, accepted or not, for the per-user limit.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Data access for {prefix}praisonai_chatbot_attempts. The per-user limit counts these rows, not the jobs table: a
 * junk or oversized request never becomes a job, yet it costs the service (and, through the site's key, every
 * other visitor's share of it) as much as a good one.
 */
final class PraisonAI_Chatbot_Attempts {

	/**
	 * Table name with the site's prefix.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'praisonai_chatbot_attempts';
	}

	/**
	 * The CREATE TABLE statement for dbDelta (see PraisonAI_Chatbot_Jobs::install()).
	 *
	 * @param string $charset Charset and collation clause.
	 * @return string
	 */
	public static function schema( $charset ) {
		$table = self::table();
		return "CREATE TABLE {$table} (
			id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
			owner_key varchar(80) NOT NULL,
			created datetime NOT NULL,
			PRIMARY KEY  (id),
			KEY owner_created (owner_key,created),
			KEY created (created)
			) {$charset};";
	}

	/**
	 * What the limit counts by: the user id, or for visitors the (hashed) address, since a visitor can drop a
	 * cookie but not as easily an address.
	 *
	 * @param array<string, mixed> $owner See PraisonAI_Chatbot_Access::current_owner().
	 * @return string
	 */
	public static function key_of( $owner ) {
		return (int) $owner['user_id'] > 0 ? 'user:' . (int) $owner['user_id'] : 'ip:' . (string) $owner['ip_hash'];
	}

	/** Rows older than this are dropped: the per-user limit counts one hour. */
	const KEEP_SECONDS = HOUR_IN_SECONDS;

	/**
	 * Log one attempt now (and drop the expired ones); its row id.
	 *
	 * @param array<string, mixed> $owner Owner.
	 * @return int
	 */
	public static function add( $owner ) {
		global $wpdb;
		self::prune( self::KEEP_SECONDS );
		$wpdb->insert( // phpcs:ignore WordPress.DB.DirectDatabaseQuery.DirectQuery
			self::table(),
			array(
				'owner_key' => self::key_of( $owner ),
				'created'   => current_time( 'mysql', true ),
			),
			array( '%s', '%s' )
		);
		return (int) $wpdb->insert_id;
	}

	/**
	 * Forget one attempt (a refused one: waiting out the limit must not be prolonged by asking again).
	 *
	 * @param int $id Row id from add().
	 */
	public static function remove( $id ) {
		global $wpdb;
		$wpdb->delete( self::table(), array( 'id' => (int) $id ), array( '%d' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Attempts of $owner in the last $seconds.
	 *
	 * @param array<string, mixed> $owner   Owner.
	 * @param int                  $seconds Window.
	 * @return array{count:int, oldest:int} Count, and the Unix time of the oldest attempt in the window (0 if none).
	 */
	public static function recent( $owner, $seconds ) {
		global $wpdb;
		$table = self::table();
		$since = gmdate( 'Y-m-d H:i:s', time() - $seconds );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT COUNT(*) AS n, MIN(created) AS oldest FROM {$table} WHERE owner_key = %s AND created > %s", self::key_of( $owner ), $since ) );
		return array(
			'count'  => $row ? (int) $row->n : 0,
			'oldest' => ( $row && $row->oldest ) ? (int) strtotime( $row->oldest . ' UTC' ) : 0,
		);
	}

	/**
	 * Drop attempts older than $seconds: the table only ever holds the current window.
	 *
	 * @param int $seconds Window.
	 */
	public static function prune( $seconds ) {
		global $wpdb;
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE created <= %s LIMIT 1000", gmdate( 'Y-m-d H:i:s', time() - $seconds ) ) );
	}
}
