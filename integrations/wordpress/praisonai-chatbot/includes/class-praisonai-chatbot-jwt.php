<?php
/**
 * HS256 JSON Web Tokens for direct mode (the browser calls the service itself with a short-lived token).
 *
 * Standalone on purpose (no WordPress functions), so it can be tested with plain php-cli.
 *
 * @package PraisonAI_Chatbot
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'PRAISONAI_CHATBOT_STANDALONE' ) ) {
	exit;
}

/**
 * Sign and verify compact JWS tokens with HMAC-SHA256 (RFC 7515 / RFC 7519).
 */
final class PraisonAI_Chatbot_JWT {

	const AUDIENCE = 'praisonai-svc';

	/** The JOSE "typ" of the service's submission receipts (praisonai_svc/security/receipts.py). */
	const RECEIPT_TYPE = 'praisonai-receipt+jwt';

	/** Receipts are signed with HMAC-SHA256(key = JWT secret, message = this label), never the secret itself. */
	const RECEIPT_KEY_LABEL = 'praisonai-svc submission receipt v1';

	/** Longer than any receipt the service issues; not worth decoding. */
	const MAX_RECEIPT_LENGTH = 2048;

	/**
	 * Sign $claims with $secret.
	 *
	 * @param array<string, mixed> $claims Claims.
	 * @param string               $secret Shared secret.
	 * @return string header.payload.signature
	 */
	public static function encode( array $claims, $secret ) {
		$signing_input = self::b64( self::json( array( 'alg' => 'HS256', 'typ' => 'JWT' ) ) ) . '.' . self::b64( self::json( $claims ) );
		return $signing_input . '.' . self::b64( hash_hmac( 'sha256', $signing_input, (string) $secret, true ) );
	}

	/**
	 * The claims of a token the service accepts: iss = site URL, aud = praisonai-svc, sub = user, exp = now + ttl.
	 *
	 * @param string $issuer  Site URL.
	 * @param string $subject User id (or visitor id).
	 * @param int    $ttl     Lifetime in seconds.
	 * @param int    $now     Unix time.
	 * @return array<string, mixed>
	 */
	public static function claims( $issuer, $subject, $ttl, $now ) {
		return array(
			'iss' => (string) $issuer,
			'aud' => self::AUDIENCE,
			'sub' => (string) $subject,
			'iat' => (int) $now,
			'nbf' => (int) $now - 30,
			'exp' => (int) $now + (int) $ttl,
			'jti' => bin2hex( random_bytes( 12 ) ),
		);
	}

	/**
	 * Verify a token's signature and time claims; the claims, or null when invalid.
	 *
	 * @param string $token  Token.
	 * @param string $secret Shared secret.
	 * @param int    $now    Unix time.
	 * @return array<string, mixed>|null
	 */
	public static function decode( $token, $secret, $now ) {
		$parts = explode( '.', (string) $token );
		if ( 3 !== count( $parts ) ) {
			return null;
		}
		$header   = json_decode( self::unb64( $parts[0] ), true );
		$claims   = json_decode( self::unb64( $parts[1] ), true );
		$expected = self::b64( hash_hmac( 'sha256', $parts[0] . '.' . $parts[1], (string) $secret, true ) );
		if ( ! is_array( $header ) || ! is_array( $claims ) || ! isset( $header['alg'] ) || 'HS256' !== $header['alg'] ) {
			return null;
		}
		if ( ! hash_equals( $expected, $parts[2] ) ) {
			return null;
		}
		if ( isset( $claims['exp'] ) && (int) $claims['exp'] <= $now ) {
			return null;
		}
		if ( isset( $claims['nbf'] ) && (int) $claims['nbf'] > $now ) {
			return null;
		}
		return $claims;
	}

	/**
	 * The claims of a submission receipt the service signed, or null: wrong signature, not a receipt, expired, or
	 * without the job it is for. The caller still has to check that it names the job and the user at hand.
	 *
	 * @param string $receipt Receipt from the service's POST /jobs answer.
	 * @param string $secret  The JWT secret shared with the service.
	 * @param int    $now     Unix time.
	 * @return array<string, mixed>|null
	 */
	public static function decode_receipt( $receipt, $secret, $now ) {
		$receipt = (string) $receipt;
		if ( '' === (string) $secret || strlen( $receipt ) > self::MAX_RECEIPT_LENGTH ) {
			return null;
		}
		$header = json_decode( self::unb64( (string) strstr( $receipt, '.', true ) ), true );
		if ( ! is_array( $header ) || ! isset( $header['typ'] ) || self::RECEIPT_TYPE !== $header['typ'] ) {
			return null;
		}
		$key    = hash_hmac( 'sha256', self::RECEIPT_KEY_LABEL, (string) $secret, true );
		$claims = self::decode( $receipt, $key, $now );
		if ( null === $claims || ! isset( $claims['exp'], $claims['job'] ) || ! is_string( $claims['job'] ) ) {
			return null; // decode() lets a token without exp pass; a receipt must expire
		}
		return $claims;
	}

	/**
	 * Base64url without padding.
	 *
	 * @param string $data Bytes.
	 * @return string
	 */
	private static function b64( $data ) {
		return rtrim( strtr( base64_encode( $data ), '+/', '-_' ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}

	/**
	 * Decode base64url.
	 *
	 * @param string $data Text.
	 * @return string
	 */
	private static function unb64( $data ) {
		$decoded = base64_decode( strtr( $data, '-_', '+/' ) . str_repeat( '=', ( 4 - strlen( $data ) % 4 ) % 4 ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		return false === $decoded ? '' : $decoded;
	}

	/**
	 * Compact JSON.
	 *
	 * @param array<string, mixed> $value Value.
	 * @return string
	 */
	private static function json( array $value ) {
		return (string) json_encode( $value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ); // phpcs:ignore WordPress.WP.AlternativeFunctions.json_encode_json_encode
	}
}
