/* SHA-256 (harness/base/sha256.c), the content hash of the quantization
 * cache and run identities: the FIPS 180-4 example digests, the x86 SHA
 * extensions' code against the portable code on every length around the
 * block and padding edges and in pieces of every size, and a file's digest
 * against the system's sha256sum where there is one. */
#include "tests/tq.h"

#include "harness/base/sha256.h"

static void hex_of(const void *data, size_t n, char hex[65])
{
	struct qe_sha256 s;
	unsigned char d[32];

	qe_sha256_init(&s);
	qe_sha256_update(&s, data, n);
	qe_sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* the digests FIPS 180-4's examples give, with each implementation */
static void test_known(void)
{
	static const char *const in[] = { "", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" };
	static const char *const want[] = {
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	};
	char hex[65];
	char *mil = malloc(1000000);

	for (int accel = 0; accel < 2; accel++) {
		qe_sha256_accel(accel);
		for (int i = 0; i < 3; i++) {
			hex_of(in[i], strlen(in[i]), hex);
			TQ_EQ_STR(hex, want[i]);
		}
		if (mil) { /* one million 'a' */
			memset(mil, 'a', 1000000);
			hex_of(mil, 1000000, hex);
			TQ_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
		}
	}
	free(mil);
	qe_sha256_accel(1);
	fprintf(stderr, "  SHA extensions %s\n", qe_sha256_accel(-1) ? "used" : "not on this CPU: portable code only");
}

/* both implementations, every length 0 .. 300, whole and in pieces of k bytes */
static void test_same(void)
{
	unsigned char buf[300];
	char a[65], b[65];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	for (size_t n = 0; n <= sizeof(buf); n++) {
		qe_sha256_accel(0);
		hex_of(buf, n, a);
		qe_sha256_accel(1);
		for (size_t k = 1; k <= 70; k += 23) {
			struct qe_sha256 s;
			unsigned char d[32];
			qe_sha256_init(&s);
			for (size_t o = 0; o < n; o += k)
				qe_sha256_update(&s, buf + o, n - o < k ? n - o : k);
			qe_sha256_final(&s, d);
			for (int i = 0; i < 32; i++)
				snprintf(b + 2 * i, 3, "%02x", d[i]);
			if (strcmp(a, b) != 0) {
				TQ_FAILF("length %zu in pieces of %zu: %s, portable %s", n, k, b, a);
				return;
			}
		}
	}
}

/* a 3 MB file against sha256sum (coreutils) */
static void test_file(void)
{
	char dir[] = "/tmp/qe-t-sha-XXXXXX", path[64], cmd[200], want[65] = "", hex[65];
	FILE *f;
	uint32_t x = 7;

	if (system("command -v sha256sum >/dev/null 2>&1") != 0)
		TQ_SKIP("sha256sum is not installed");
	if (!mkdtemp(dir))
		TQ_SKIP("no scratch folder");
	snprintf(path, sizeof(path), "%s/f", dir);
	if (!(f = fopen(path, "wb")))
		return;
	for (int i = 0; i < 3 * 1024 * 1024 + 17; i++) {
		x = x * 1664525u + 1013904223u;
		fputc((int)(x >> 24), f);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	f = popen(cmd, "r");
	TQ_CHECK(f && fscanf(f, "%64s", want) == 1);
	if (f)
		pclose(f);
	for (int accel = 0; accel < 2; accel++) {
		qe_sha256_accel(accel);
		TQ_EQ_INT(qe_sha256_file(path, hex, NULL), 0);
		TQ_EQ_STR(hex, want);
	}
	qe_sha256_accel(1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	TQ_EQ_INT(system(cmd), 0);
}

int main(void)
{
	TQ_RUN(test_known);
	TQ_RUN(test_same);
	TQ_RUN(test_file);
	return tq_done("t_sha256");
}
