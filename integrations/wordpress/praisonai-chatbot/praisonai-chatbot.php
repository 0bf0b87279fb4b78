<?php
/**
 * Plugin Name:       PraisonAI Chatbot
 * Plugin URI:        https://pypi.org/project/praisonai-svc/
 * Description:       A chat widget that sends YAML or JSON job requests to a praisonai-svc service (for example the PowerPoint service), follows the job and hands back the file. The API key stays on the server.
 * Version:           1.0.0
 * Requires at least: 5.8
 * Requires PHP:      7.4
 * Author:            praisonai-svc team
 * License:           MIT
 * License URI:       https://opensource.org/licenses/MIT
 * Text Domain:       praisonai-chatbot
 * Domain Path:       /languages
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'PRAISONAI_CHATBOT_VERSION', '1.0.0' );
define( 'PRAISONAI_CHATBOT_FILE', __FILE__ );
define( 'PRAISONAI_CHATBOT_DIR', plugin_dir_path( __FILE__ ) );
define( 'PRAISONAI_CHATBOT_URL', plugin_dir_url( __FILE__ ) );

require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-options.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-jobs.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-attempts.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-access.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-jwt.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-client.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-rest.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-live.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-history.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-widget.php';
require_once PRAISONAI_CHATBOT_DIR . 'includes/class-praisonai-chatbot-plugin.php';
require_once PRAISONAI_CHATBOT_DIR . 'admin/class-praisonai-chatbot-settings-page.php';
require_once PRAISONAI_CHATBOT_DIR . 'admin/class-praisonai-chatbot-jobs-page.php';
require_once PRAISONAI_CHATBOT_DIR . 'admin/class-praisonai-chatbot-usage-page.php';

register_activation_hook( __FILE__, array( 'PraisonAI_Chatbot_Plugin', 'activate' ) );

PraisonAI_Chatbot_Plugin::boot();
