/* Numbers and names of the wire protocol, shared by the command parser,
 * the server-line parser and formatter, the server and the client: GEN's
 * meals and names, order names, decimal numbers read and written by hand. */
#include "common/protocol.h"
#include "common/protocol_util.h"

#include <string.h>

uint64_t proto_gen_meal(uint32_t i, uint32_t n, uint64_t lo_us, uint64_t hi_us)
{
	if (n <= 1 || lo_us >= hi_us || i <= 1)
		return lo_us;
	if (i >= n)
		return hi_us;
	/* (hi - lo) * (i - 1) can pass 64 bits; in 128 bits it cannot. */
	unsigned __int128 spread = (unsigned __int128)(hi_us - lo_us) * (i - 1);
	return lo_us + (uint64_t)(spread / (n - 1));
}

/* Decimal digits of v without a loop: log2 gives log10 to within one
 * (1233/4096 is log10(2)), and one comparison settles it. A loop here
 * mispredicted its exit on every call. */
static size_t u64_digits(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
		100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
		10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
		100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
	};
	unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
	unsigned t = bits * 1233u >> 12;   /* floor(log10(2^bits)) */
	return t + ((v | 1) >= pow10[t]);   /* 0 has one digit too */
}

/* Three million numbers a second go through here in a large run: two
 * digits per division, written in place from the end. */
size_t proto_put_u64(char *dst, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	size_t n = u64_digits(v);
	char *at = dst + n;
	while (v >= 100) {
		const char *pair = &pairs[(v % 100) * 2];
		v /= 100;
		at -= 2;
		at[0] = pair[0];
		at[1] = pair[1];
	}
	if (v >= 10) {
		at[-2] = pairs[v * 2];
		at[-1] = pairs[v * 2 + 1];
	} else {
		at[-1] = (char)('0' + v);
	}
	return n;
}

int proto_gen_name(char *buf, size_t cap, const char *prefix, uint32_t i)
{
	size_t plen = strlen(prefix), dlen = u64_digits(i);
	if (plen + dlen >= cap)
		return -1;
	memcpy(buf, prefix, plen);
	proto_put_u64(buf + plen, i);
	buf[plen + dlen] = '\0';
	return (int)(plen + dlen);
}

static int is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

const char *proto_name_problem(const char *s, size_t len)
{
	if (len == 0)
		return "the name is empty";
	if (len > PROTO_NAME_MAX)
		return "the name is longer than 32 characters";
	for (size_t i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i]))
			return "the name has a character outside A-Z a-z 0-9 _ . -";
	return NULL;
}

int proto_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -1;
	}
	*out = v;
	return 0;
}

int proto_token_equal(const char *given, const char *want)
{
	size_t gl = strlen(given), wl = strlen(want), n = gl > wl ? gl : wl;
	unsigned char diff = (unsigned char)(gl != wl);
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)((i < gl ? given[i] : 0) ^ (i < wl ? want[i] : 0));
	return diff == 0;
}
