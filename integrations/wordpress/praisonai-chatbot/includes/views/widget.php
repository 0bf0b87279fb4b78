<?php
/**
 * Markup of one chat widget. Variables: $id (element id), $title, $service, $data (service + sample for the script).
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}
?>
<section class="praisonai-chatbot" id="<?php echo esc_attr( $id ); ?>" data-service="<?php echo esc_attr( $service ); ?>" aria-labelledby="<?php echo esc_attr( $id ); ?>-title">
	<script type="application/json" class="praisonai-chatbot__data"><?php echo wp_json_encode( $data, JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES ); ?></script>
	<header class="praisonai-chatbot__header">
		<h2 class="praisonai-chatbot__title" id="<?php echo esc_attr( $id ); ?>-title"><?php echo esc_html( $title ); ?></h2>
		<span class="praisonai-chatbot__service">
			<?php
			/* translators: %s: service name, e.g. ppt. */
			echo esc_html( sprintf( __( 'Service: %s', 'praisonai-chatbot' ), $service ) );
			?>
		</span>
	</header>
	<ol class="praisonai-chatbot__log" role="log" aria-live="polite" aria-relevant="additions" aria-label="<?php esc_attr_e( 'Conversation', 'praisonai-chatbot' ); ?>">
		<li class="praisonai-chatbot__message praisonai-chatbot__message--bot">
			<?php
			/* translators: %s: service name. */
			echo esc_html( sprintf( __( 'Hi! Paste a job request for the “%s” service as YAML or JSON (with a top-level payload), or use the sample. I will follow the job and give you the file when it is ready.', 'praisonai-chatbot' ), $service ) );
			?>
		</li>
	</ol>
	<p class="praisonai-chatbot__live screen-reader-text" role="status" aria-live="polite"></p>
	<form class="praisonai-chatbot__form" novalidate>
		<label class="praisonai-chatbot__label" for="<?php echo esc_attr( $id ); ?>-input"><?php esc_html_e( 'Your request (YAML or JSON)', 'praisonai-chatbot' ); ?></label>
		<textarea class="praisonai-chatbot__input" id="<?php echo esc_attr( $id ); ?>-input" name="document" rows="8" spellcheck="false" autocomplete="off" aria-describedby="<?php echo esc_attr( $id ); ?>-help"></textarea>
		<p class="praisonai-chatbot__help" id="<?php echo esc_attr( $id ); ?>-help"><?php esc_html_e( 'Press Ctrl+Enter to send.', 'praisonai-chatbot' ); ?></p>
		<div class="praisonai-chatbot__actions">
			<?php if ( '' !== $data['sample'] ) : ?>
				<button type="button" class="praisonai-chatbot__sample"><?php esc_html_e( 'Use sample', 'praisonai-chatbot' ); ?></button>
			<?php endif; ?>
			<button type="submit" class="praisonai-chatbot__send"><?php esc_html_e( 'Send', 'praisonai-chatbot' ); ?></button>
		</div>
	</form>
</section>
