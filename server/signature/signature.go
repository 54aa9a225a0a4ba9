// Package signature makes and checks Standard Webhooks signatures (webhook-id,
// webhook-timestamp, webhook-signature: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body"), and decodes the whsec_ secrets they are keyed with. Webhook deliveries
// sign with it; the Webhooks API checks the secrets users give with it.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every Standard Webhooks symmetric secret.
const SecretPrefix = "whsec_"

// DecodeSecret returns the key bytes of a whsec_ secret.
func DecodeSecret(secret string) ([]byte, error) {
	s, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("secret must start with " + SecretPrefix)
	}
	return base64.StdEncoding.DecodeString(s)
}

// Sign returns the Standard Webhooks signature of one delivery: "v1," and the base64
// HMAC-SHA256, keyed with the secret, of "msgID.timestamp.body".
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Signatures returns the webhook-signature header value: one signature per secret,
// space-separated, so a receiver holding any of them (during a rotation) can verify.
func Signatures(secrets []string, msgID string, timestamp int64, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, timestamp, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
