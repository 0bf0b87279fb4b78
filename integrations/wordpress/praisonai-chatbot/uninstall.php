<?php
/**
 * Uninstall: remove the settings, the database version, transients, the jobs table and the attempts log (on every
 * site).
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

/**
 * Remove everything the plugin stored on the current site.
 */
function praisonai_chatbot_uninstall_site() {
	global $wpdb;
	delete_option( 'praisonai_chatbot_settings' );
	delete_option( 'praisonai_chatbot_db_version' );
	// Connection-test results are short-lived transients keyed by user id.
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_praisonai_chatbot_' ) . '%', $wpdb->esc_like( '_transient_timeout_praisonai_chatbot_' ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}praisonai_chatbot_jobs" ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}praisonai_chatbot_attempts" ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $praisonai_chatbot_site_id ) {
		switch_to_blog( $praisonai_chatbot_site_id );
		praisonai_chatbot_uninstall_site();
		restore_current_blog();
	}
} else {
	praisonai_chatbot_uninstall_site();
}
