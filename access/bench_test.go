package access

import "testing"

// BenchmarkCredentials: what a sign-in costs (argon2id, on purpose slow) against what an API
// request's token costs (SHA-256 of a 256-bit secret), measured in one run.
func BenchmarkCredentials(b *testing.B) {
	hash, _ := HashPassword("correct horse battery")
	b.Run("sign-in-argon2id", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := VerifyPassword(hash, "correct horse battery"); !ok {
				b.Fatal("did not verify")
			}
		}
	})
	token := NewSecret("ems_")
	b.Run("token-sha256", func(b *testing.B) {
		for b.Loop() {
			_ = SecretHash(token)
		}
	})
}
