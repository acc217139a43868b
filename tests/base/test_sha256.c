/*
 * SHA-256 against the FIPS 180-4 example vectors (and NIST's long ones),
 * lengths around the padding boundaries, streaming in pieces of every size,
 * files and hex names. Expected digests of the extra cases were computed
 * with an independent implementation (Python's hashlib).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/sha256.h"

static void expect_hex(const void *data, size_t len, const char *want)
{
    char got[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(data, len, got);
    cr_assert_str_eq(got, want, "sha256 of %zu bytes", len);
}

Test(sha256, empty)
{
    expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc)
{
    expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, two_block_448_bits)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cr_assert_eq(strlen(m) * 8, 448);
    expect_hex(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, message_of_896_bits)
{
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    expect_hex(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, one_million_a)
{
    size_t n = 1000000;
    char *m = malloc(n);
    cr_assert_not_null(m);
    memset(m, 'a', n);
    expect_hex(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* The same through many small updates (1000 of 1000 bytes). */
    mg_sha256 s;
    mg_sha256_init(&s);
    for (size_t i = 0; i < 1000; i++) mg_sha256_update(&s, m, 1000);
    unsigned char d[MG_SHA256_SIZE];
    char hex[MG_SHA256_HEX_SIZE];
    mg_sha256_final(&s, d);
    mg_sha256_hex(d, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

/* Lengths where the padding needs one block or two. */
Test(sha256, padding_boundaries)
{
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char buf[128];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_hex(buf, cases[i].n, cases[i].hex);
}

/* 5000 bytes of a pattern fed in every piece size from 1 to 130, so pieces
 * start and end at every offset within a block. */
Test(sha256, update_in_odd_sized_pieces)
{
    const char *want = "34398b85297bf7d9dfb59b8d511d8bbb44ab23e891570e4395e7871475fc8afb";
    unsigned char m[5000];
    for (size_t i = 0; i < sizeof m; i++) m[i] = (unsigned char)((i * 7 + 3) % 256);
    expect_hex(m, sizeof m, want);
    for (size_t piece = 1; piece <= 130; piece++) {
        mg_sha256 s;
        mg_sha256_init(&s);
        for (size_t off = 0; off < sizeof m; off += piece) {
            size_t n = sizeof m - off < piece ? sizeof m - off : piece;
            mg_sha256_update(&s, m + off, n);
        }
        unsigned char d[MG_SHA256_SIZE];
        char hex[MG_SHA256_HEX_SIZE];
        mg_sha256_final(&s, d);
        mg_sha256_hex(d, hex);
        cr_assert_str_eq(hex, want, "pieces of %zu bytes", piece);
    }
    /* Zero-length updates change nothing. */
    mg_sha256 s;
    mg_sha256_init(&s);
    mg_sha256_update(&s, m, 0);
    mg_sha256_update(&s, m, 100);
    mg_sha256_update(&s, m + 100, 0);
    mg_sha256_update(&s, m + 100, sizeof m - 100);
    unsigned char d[MG_SHA256_SIZE];
    char hex[MG_SHA256_HEX_SIZE];
    mg_sha256_final(&s, d);
    mg_sha256_hex(d, hex);
    cr_assert_str_eq(hex, want);
}

Test(sha256, raw_digest_bytes)
{
    mg_sha256 s;
    unsigned char d[MG_SHA256_SIZE];
    mg_sha256_init(&s);
    mg_sha256_update(&s, "abc", 3);
    mg_sha256_final(&s, d);
    cr_assert_eq(d[0], 0xba);
    cr_assert_eq(d[1], 0x78);
    cr_assert_eq(d[31], 0xad);
}

Test(sha256, file_digest_and_size)
{
    char path[] = "/tmp/mgd-test-sha256-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    /* Larger than the read buffer, so the file is hashed in pieces. */
    size_t n = 200000;
    char *m = malloc(n);
    cr_assert_not_null(m);
    for (size_t i = 0; i < n; i++) m[i] = (char)('a' + i % 26);
    cr_assert_eq(write(fd, m, n), (ssize_t)n);
    close(fd);

    char want[MG_SHA256_HEX_SIZE], got[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(m, n, want);
    uint64_t size = 0;
    cr_assert_eq(mg_sha256_file_hex(path, got, &size), 0);
    cr_assert_str_eq(got, want);
    cr_assert_eq(size, n);
    cr_assert_eq(mg_sha256_file_hex(path, got, NULL), 0, "size may be NULL");
    unlink(path);
    free(m);

    cr_assert_eq(mg_sha256_file_hex(path, got, &size), ENOENT);
    cr_assert_eq(mg_sha256_file_hex("/tmp", got, &size), EISDIR);
}

Test(sha256, hex_names)
{
    cr_assert(mg_sha256_is_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    cr_assert_not(
        mg_sha256_is_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    cr_assert_not(
        mg_sha256_is_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
    cr_assert_not(
        mg_sha256_is_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
    cr_assert_not(mg_sha256_is_hex("../../../../etc/passwd"));
    cr_assert_not(mg_sha256_is_hex(""));
    cr_assert_not(mg_sha256_is_hex(NULL));
}

Test(sha256, refuses_what_is_not_a_regular_file)
{
    char hex[MG_SHA256_HEX_SIZE];
    /* /dev/zero would never end; a directory is no content */
    cr_assert_eq(mg_sha256_file_hex("/dev/zero", hex, NULL), EINVAL);
    cr_assert_eq(mg_sha256_file_hex("/dev/null", hex, NULL), EINVAL);
    cr_assert_eq(mg_sha256_file_hex("/tmp", hex, NULL), EISDIR);
    cr_assert_eq(mg_sha256_file_hex("/nonexistent/file", hex, NULL), ENOENT);
}
