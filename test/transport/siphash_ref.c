/*
 * An independent SipHash-2-4, written from the paper's description (Aumasson & Bernstein,
 * "SipHash: a fast short-input PRF", 2012) for siphash.test.ts to compare the TypeScript
 * implementation against on random inputs. Deliberately plain: byte-at-a-time message
 * parsing, a generic loop, no shared code with bpf/raft_wire.h or src/transport/siphash.ts.
 * Input: lines "<key hex 32> <message hex, possibly empty>"; output: the hash, 16 hex digits.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t siphash24(const uint8_t k[16], const uint8_t *m, size_t len)
{
	uint64_t k0 = 0, k1 = 0;
	for (int i = 7; i >= 0; i--) { k0 = k0 << 8 | k[i]; k1 = k1 << 8 | k[8 + i]; }
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
			  k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL };
	/* Pad: append bytes so the length is ≡ 7 (mod 8), then one byte of len mod 256. */
	size_t nwords = len / 8 + 1;
	for (size_t w = 0; w < nwords; w++) {
		uint64_t mi = 0;
		for (int b = 7; b >= 0; b--) {
			size_t pos = w * 8 + (size_t)b;
			uint8_t byte = pos < len ? m[pos] : (b == 7 ? (uint8_t)len : 0);
			mi = mi << 8 | byte;
		}
		v[3] ^= mi;
		sipround(v); sipround(v);
		v[0] ^= mi;
	}
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++) sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

int main(void)
{
	static char line[1 << 16];
	static uint8_t buf[1 << 15];
	while (fgets(line, sizeof line, stdin)) {
		size_t n = strcspn(line, "\r\n");
		if (n < 33 || line[32] != ' ' || (n - 33) % 2 != 0) { fprintf(stderr, "bad line\n"); return 1; }
		uint8_t key[16];
		for (size_t i = 0; i < 16; i++) key[i] = (uint8_t)(hexval(line[2 * i]) << 4 | hexval(line[2 * i + 1]));
		size_t len = (n - 33) / 2;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(hexval(line[33 + 2 * i]) << 4 | hexval(line[34 + 2 * i]));
		printf("%016llx\n", (unsigned long long)siphash24(key, buf, len));
	}
	return 0;
}
