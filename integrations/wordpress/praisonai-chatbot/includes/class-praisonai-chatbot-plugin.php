<?php
/**
 * Wires the plugin into WordPress: activation, translations, database upgrades and every hook.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The composition root of the plugin.
 */
final class PraisonAI_Chatbot_Plugin {

	/**
	 * Register every hook. Called once from the main plugin file.
	 */
	public static function boot() {
		add_action( 'plugins_loaded', array( __CLASS__, 'load_textdomain' ) );
		add_action( 'plugins_loaded', array( 'PraisonAI_Chatbot_Jobs', 'maybe_upgrade' ) );
		add_action( 'rest_api_init', array( new PraisonAI_Chatbot_REST(), 'register_routes' ) );
		add_action( 'rest_api_init', array( new PraisonAI_Chatbot_Live(), 'register_routes' ) );
		add_filter( 'rest_pre_dispatch', array( 'PraisonAI_Chatbot_REST', 'refuse_oversized' ), 10, 3 );
		add_action( 'init', array( 'PraisonAI_Chatbot_Widget', 'register' ) );
		add_action( 'admin_post_praisonai_chatbot_download', array( 'PraisonAI_Chatbot_History', 'handle_download' ) );
		add_action( 'admin_post_nopriv_praisonai_chatbot_download', array( 'PraisonAI_Chatbot_History', 'handle_download' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( PRAISONAI_CHATBOT_FILE ), array( __CLASS__, 'action_links' ) );

		if ( is_admin() ) {
			PraisonAI_Chatbot_Settings_Page::boot();
			PraisonAI_Chatbot_Jobs_Page::boot();
			PraisonAI_Chatbot_Usage_Page::boot();
		}
	}

	/**
	 * Activation: create the jobs table and store the default settings (existing settings are kept).
	 */
	public static function activate() {
		PraisonAI_Chatbot_Jobs::install();
		if ( false === get_option( PraisonAI_Chatbot_Options::OPTION, false ) ) {
			add_option( PraisonAI_Chatbot_Options::OPTION, PraisonAI_Chatbot_Options::defaults() );
		}
	}

	/**
	 * Translations: languages/praisonai-chatbot-{locale}.mo, or the ones WordPress.org delivers.
	 */
	public static function load_textdomain() {
		load_plugin_textdomain( 'praisonai-chatbot', false, dirname( plugin_basename( PRAISONAI_CHATBOT_FILE ) ) . '/languages' );
	}

	/**
	 * A "Settings" link on the Plugins screen.
	 *
	 * @param string[] $links Existing action links.
	 * @return string[]
	 */
	public static function action_links( $links ) {
		$url = admin_url( 'options-general.php?page=' . PraisonAI_Chatbot_Settings_Page::SLUG );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'praisonai-chatbot' ) . '</a>' );
		return $links;
	}
}
