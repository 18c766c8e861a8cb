// Config of TLS ([tls], [websocket] tls): the defaults, the certificate and key loaded and
// read, and every rejection with the position of the key at fault. The PEM files are made
// here, in-process with libcrypto, in a temporary directory each test removes.
#include "config.h"
#include "config_parse.h"
#include "tls_context.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

namespace {
// A mkdtemp directory, removed with everything in it when the object goes.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/evchat-tls-test-XXXXXX";
        const char* p = mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path_ = p;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    std::string write(const std::string& name, const std::string& text) const
    {
        std::string p = file(name);
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }

private:
    std::string path_;
};

bool write_pem(const std::string& path, const std::function<int(FILE*)>& write)
{
    FILE* f = fopen(path.c_str(), "w");
    if (!f)
        return false;
    bool ok = write(f) == 1;
    return fclose(f) == 0 && ok;
}

// An EC P-256 key and a self-signed certificate for CN=localhost with this serial number,
// valid from an hour ago until not_after: dir/<name>.crt and dir/<name>.key. With issuer,
// the issuer's name also has that O= (still signed by its own key), so that it differs
// from the subject.
struct Pair {
    std::string cert, key;
};
Pair make_pair(const TempDir& dir, const std::string& name, long serial, time_t not_after,
               const char* issuer = nullptr)
{
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
    REQUIRE(pkey);
    REQUIRE(x);
    X509* c = x.get();
    const auto* cn = reinterpret_cast<const unsigned char*>("localhost");
    bool ok = X509_set_version(c, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(c), -3600) != nullptr &&
              ASN1_TIME_set(X509_getm_notAfter(c), not_after) != nullptr &&
              X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, cn, -1, -1, 0) == 1 &&
              X509_set_issuer_name(c, X509_get_subject_name(c)) == 1 && X509_set_pubkey(c, pkey.get()) == 1;
    REQUIRE(ok);
    if (issuer)
        REQUIRE(X509_NAME_add_entry_by_txt(X509_get_issuer_name(c), "O", MBSTRING_ASC,
                                           reinterpret_cast<const unsigned char*>(issuer), -1, -1, 0) == 1);
    REQUIRE(X509_sign(c, pkey.get(), EVP_sha256()) > 0);
    Pair p{dir.file(name + ".crt"), dir.file(name + ".key")};
    REQUIRE(write_pem(p.cert, [&](FILE* f) { return PEM_write_X509(f, c); }));
    REQUIRE(write_pem(p.key, [&](FILE* f) {
        return PEM_write_PrivateKey(f, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
    }));
    ERR_clear_error();
    return p;
}
Pair make_pair(const TempDir& dir, const std::string& name = "server")
{
    return make_pair(dir, name, 1, time(nullptr) + 2 * 86400);
}

// [tls] with cert on line 2 and key on line 3 (values at columns 8 and 7), then more.
std::string tls_section(const std::string& cert, const std::string& key, const std::string& more = "")
{
    return "[tls]\ncert = \"" + cert + "\"\nkey = \"" + key + "\"\n" + more;
}
}  // namespace

TEST_CASE("[tls]: the defaults, with TLS off")
{
    Config c;
    REQUIRE(parse("", c) == "");
    CHECK(c.tls.listen.empty());
    CHECK(c.tls.cert == "");
    CHECK(c.tls.key == "");
    CHECK(c.tls.min_version == TlsVersion::v1_2);
    CHECK(c.tls.ciphers == "");
    CHECK(c.tls.ciphersuites == "");
    CHECK(c.tls.handshake_timeout == 10.0);
    CHECK(!c.websocket.tls);
    CHECK(!c.tls.used(c.websocket));
    // The shipped file says the same.
    Config shipped;
    REQUIRE(parse(std::string(default_config_text()), shipped) == "");
    CHECK(shipped.tls == c.tls);
    CHECK(shipped.websocket.tls == c.websocket.tls);
}

TEST_CASE("[tls]: a valid pair loads, and the certificate's subject, serial and end are read")
{
    TempDir dir;
    const time_t not_after = time(nullptr) + 3 * 86400;
    Pair p = make_pair(dir, "server", 0x1234567890abcdefL, not_after, "evchat tests");
    Config c;
    REQUIRE(parse(tls_section(p.cert, p.key,
                              "listen = [\"127.0.0.1:0\", \"[::1]:8443\"]\nmin_version = \"1.2\"\n"
                              "ciphers = \"ECDHE+AESGCM\"\nciphersuites = \"TLS_AES_128_GCM_SHA256\"\n"
                              "handshake_timeout = 2.5\n"),
                  c) == "");
    CHECK(c.tls.listen == std::vector<std::string>{"127.0.0.1:0", "[::1]:8443"});
    CHECK(c.tls.cert == p.cert);
    CHECK(c.tls.key == p.key);
    CHECK(c.tls.min_version == TlsVersion::v1_2);
    CHECK(c.tls.ciphers == "ECDHE+AESGCM");
    CHECK(c.tls.ciphersuites == "TLS_AES_128_GCM_SHA256");
    CHECK(c.tls.handshake_timeout == 2.5);
    CHECK(c.tls.used(c.websocket));

    std::string err;
    TlsContext::Culprit culprit = TlsContext::Culprit::ciphersuites;
    std::unique_ptr<TlsContext> ctx = TlsContext::load(c.tls, err, culprit);
    REQUIRE_MESSAGE(ctx != nullptr, err);
    CHECK(err == "");
    CHECK(ctx->subject() == "/CN=localhost");
    CHECK(ctx->serial() == "1234567890ABCDEF");
    CHECK(ctx->not_after() == static_cast<double>(not_after));

    // A pair alone, with no listener yet, is loaded (and checked) too.
    REQUIRE(parse(tls_section(p.cert, p.key), c) == "");
    CHECK(!c.tls.used(c.websocket));
    CHECK(c.tls.cert == p.cert);
}

TEST_CASE("[tls]: a TLS listener without cert and key is refused at its listen")
{
    CHECK(error_of("[tls]\nlisten = [\"127.0.0.1:0\"]\n") == "t.toml:2:10: TLS needs [tls] cert and key (PEM files)");
    CHECK(error_of("[server]\nlisten = [\":1\"]\n\n[tls]\nhandshake_timeout = 1\nlisten = [\n  \"[::1]:0\",\n]\n") ==
          "t.toml:6:10: TLS needs [tls] cert and key (PEM files)");
    // An empty list is no listener, and needs no certificate.
    Config c;
    CHECK(parse("[tls]\nlisten = []\n", c) == "");
    CHECK(!c.tls.used(c.websocket));
}

TEST_CASE("[tls]: cert and key go together")
{
    CHECK(error_of("[tls]\ncert = \"/etc/evchat/cert.pem\"\n") == "t.toml:2:8: [tls] cert and key go together");
    CHECK(error_of("[tls]\nmin_version = \"1.3\"\nkey = \"/etc/evchat/key.pem\"\n") ==
          "t.toml:3:7: [tls] cert and key go together");
    CHECK(error_of("[tls]\ncert = \"/etc/evchat/cert.pem\"\nkey = \"\"\n") == "t.toml:2:8: [tls] cert and key go together");
}

TEST_CASE("[tls]: a missing cert or key file is refused with its path and the system's reason")
{
    TempDir dir;
    Pair p = make_pair(dir);
    std::string nope = dir.file("nope.pem");
    CHECK(error_of(tls_section(nope, p.key)) == "t.toml:2:8: cert " + nope + ": No such file or directory");
    CHECK(error_of(tls_section(p.cert, nope)) == "t.toml:3:7: key " + nope + ": No such file or directory");
    CHECK(error_of(tls_section(dir.file("no/such/dir.pem"), p.key)) ==
          "t.toml:2:8: cert " + dir.file("no/such/dir.pem") + ": No such file or directory");
}

TEST_CASE("[tls]: a file that is not PEM is refused at its key")
{
    TempDir dir;
    Pair p = make_pair(dir);
    std::string junk = dir.write("junk.pem", "this is not a certificate\n");
    std::string empty = dir.write("empty.pem", "");
    CHECK(starts(error_of(tls_section(junk, p.key)), "t.toml:2:8: cert " + junk + ": not a PEM certificate chain ("));
    CHECK(starts(error_of(tls_section(empty, p.key)), "t.toml:2:8: cert " + empty + ": not a PEM certificate chain ("));
    CHECK(starts(error_of(tls_section(junk, p.key, "listen = [\"127.0.0.1:0\"]\n")),
                 "t.toml:2:8: cert " + junk + ": not a PEM certificate chain ("));
    // PEM, but the wrong kind: a key as the certificate, a certificate as the key.
    CHECK(starts(error_of(tls_section(p.key, p.key)), "t.toml:2:8: cert " + p.key + ": not a PEM certificate chain ("));
    CHECK(starts(error_of(tls_section(p.cert, junk)), "t.toml:3:7: key " + junk + ": not a PEM private key ("));
    CHECK(starts(error_of(tls_section(p.cert, p.cert)), "t.toml:3:7: key " + p.cert + ": not a PEM private key ("));
    // A directory, or a FIFO (whose open would wait for a writer), is not read at all.
    CHECK(error_of(tls_section(dir.path(), p.key)) == "t.toml:2:8: cert " + dir.path() + ": not a regular file");
    std::string fifo = dir.path() + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(error_of(tls_section(p.cert, fifo)) == "t.toml:3:7: key " + fifo + ": not a regular file");
    unlink(fifo.c_str());
}

TEST_CASE("[tls]: a key from another pair does not match the certificate")
{
    TempDir dir;
    Pair a = make_pair(dir, "a");
    Pair b = make_pair(dir, "b");
    CHECK(error_of(tls_section(a.cert, b.key)) == "t.toml:3:7: key " + b.key + " does not match the certificate in " + a.cert);
    CHECK(error_of(tls_section(b.cert, a.key, "listen = [\"127.0.0.1:0\"]\n")) ==
          "t.toml:3:7: key " + a.key + " does not match the certificate in " + b.cert);
    // And a refused pair leaves the config as it was.
    Config c;
    REQUIRE(parse(tls_section(a.cert, a.key), c) == "");
    CHECK(parse(tls_section(b.cert, a.key), c) != "");
    CHECK(c.tls.cert == a.cert);
    CHECK(c.tls.key == a.key);
    REQUIRE(parse(tls_section(b.cert, b.key), c) == "");
    CHECK(c.tls.cert == b.cert);
}

TEST_CASE("[tls]: min_version is \"1.2\" or \"1.3\"")
{
    CHECK(error_of("[tls]\nmin_version = \"1.1\"\n") == "t.toml:2:15: min_version must be \"1.2\" or \"1.3\"");
    CHECK(error_of("[tls]\nmin_version = \"1.0\"\n") == "t.toml:2:15: min_version must be \"1.2\" or \"1.3\"");
    CHECK(error_of("[tls]\nmin_version = \"TLSv1.3\"\n") == "t.toml:2:15: min_version must be \"1.2\" or \"1.3\"");
    CHECK(error_of("[tls]\nmin_version = 1.3\n") == "t.toml:2:15: min_version must be a string");
    TempDir dir;
    Pair p = make_pair(dir);
    CHECK(error_of(tls_section(p.cert, p.key, "min_version = \"1.1\"\n")) ==
          "t.toml:4:15: min_version must be \"1.2\" or \"1.3\"");
    Config c;
    REQUIRE(parse(tls_section(p.cert, p.key, "min_version = \"1.3\"\nlisten = [\"127.0.0.1:0\"]\n"), c) == "");
    CHECK(c.tls.min_version == TlsVersion::v1_3);
    std::string err;
    TlsContext::Culprit culprit;
    CHECK_MESSAGE(TlsContext::load(c.tls, err, culprit) != nullptr, err);
    REQUIRE(parse("[tls]\nmin_version = \"1.2\"\n", c) == "");
    CHECK(c.tls.min_version == TlsVersion::v1_2);
}

TEST_CASE("[tls]: bad ciphers and ciphersuites are refused at their key")
{
    TempDir dir;
    Pair p = make_pair(dir);
    CHECK(starts(error_of(tls_section(p.cert, p.key, "ciphers = \"NO-SUCH-CIPHER\"\n")),
                 "t.toml:4:11: ciphers \"NO-SUCH-CIPHER\": "));
    CHECK(starts(error_of(tls_section(p.cert, p.key, "handshake_timeout = 3\nciphersuites = \"TLS_NO_SUCH_SUITE\"\n")),
                 "t.toml:5:16: ciphersuites \"TLS_NO_SUCH_SUITE\": "));
    // The cipher rules are at fault, not the files, whichever comes first in the file.
    CHECK(starts(error_of("[tls]\nciphers = \"NO-SUCH-CIPHER\"\n" + tls_section(p.cert, p.key).substr(6)),
                 "t.toml:2:11: ciphers \"NO-SUCH-CIPHER\": "));
    // Good ones pass.
    Config c;
    REQUIRE(parse(tls_section(p.cert, p.key, "ciphers = \"HIGH:!aNULL\"\nciphersuites = \"TLS_AES_256_GCM_SHA384:"
                                             "TLS_CHACHA20_POLY1305_SHA256\"\n"),
                  c) == "");
    CHECK(c.tls.ciphers == "HIGH:!aNULL");
    CHECK(c.tls.ciphersuites == "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
}

TEST_CASE("[tls]: [websocket] tls with a web listener needs the certificate")
{
    CHECK(error_of("[websocket]\nlisten = [\"127.0.0.1:0\"]\ntls = true\n") ==
          "t.toml:3:7: TLS needs [tls] cert and key (PEM files)");
    CHECK(error_of("[websocket]\ntls = true\nlisten = [\"127.0.0.1:0\"]\n[tls]\nciphers = \"HIGH\"\n") ==
          "t.toml:2:7: TLS needs [tls] cert and key (PEM files)");
    CHECK(error_of("[websocket]\ntls = \"yes\"\n") == "t.toml:2:7: tls must be true or false");
    // No web listener, nothing served over TLS: no certificate needed.
    Config c;
    REQUIRE(parse("[websocket]\ntls = true\n", c) == "");
    CHECK(c.websocket.tls);
    CHECK(!c.tls.used(c.websocket));
    TempDir dir;
    Pair p = make_pair(dir);
    REQUIRE(parse("[websocket]\nlisten = [\"127.0.0.1:0\"]\ntls = true\n" + tls_section(p.cert, p.key), c) == "");
    CHECK(c.websocket.tls);
    CHECK(c.tls.used(c.websocket));
    CHECK(c.tls.cert == p.cert);
}

TEST_CASE("[tls]: listen and handshake_timeout are checked like their kin")
{
    CHECK(starts(error_of("[tls]\nhandshake_timeout = 0\n"), "t.toml:2:21: handshake_timeout must be between 0.01 and"));
    CHECK(error_of("[tls]\nhandshake_timeout = \"10s\"\n") == "t.toml:2:21: handshake_timeout must be a number of seconds");
    CHECK(starts(error_of("[tls]\nlisten = [\"nohost\"]\n"), "t.toml:2:11: listen address \"nohost\" has no :PORT"));
    CHECK(error_of("[tls]\nlisten = \"127.0.0.1:0\"\n") == "t.toml:2:10: listen must be an array of \"HOST:PORT\" strings");
    CHECK(error_of("[tls]\nport = 1\n") == "t.toml:2:1: unknown key \"port\" in [tls]");
    CHECK(error_of("tls = 1\n") == "t.toml:1:7: [tls] must be a table");
}

TEST_CASE("[tls]: a reload may change every [tls] key and [websocket] tls")
{
    TempDir dir;
    Pair a = make_pair(dir, "a");
    Pair b = make_pair(dir, "b");
    Config running, next;
    REQUIRE(parse("[websocket]\nlisten = [\"127.0.0.1:0\"]\ntls = true\n" + tls_section(a.cert, a.key), running) == "");
    REQUIRE(parse("[websocket]\nlisten = [\"127.0.0.1:0\"]\ntls = false\n" +
                      tls_section(b.cert, b.key,
                                  "listen = [\"127.0.0.1:0\"]\nmin_version = \"1.3\"\nciphers = \"HIGH\"\n"
                                  "ciphersuites = \"TLS_AES_128_GCM_SHA256\"\nhandshake_timeout = 1\n"),
                  next) == "");
    // Every key differs, so a key read only at start would be named.
    CHECK(running.websocket.tls != next.websocket.tls);
    CHECK(running.tls.listen != next.tls.listen);
    CHECK(running.tls.cert != next.tls.cert);
    CHECK(running.tls.key != next.tls.key);
    CHECK(running.tls.min_version != next.tls.min_version);
    CHECK(running.tls.ciphers != next.tls.ciphers);
    CHECK(running.tls.ciphersuites != next.tls.ciphersuites);
    CHECK(running.tls.handshake_timeout != next.tls.handshake_timeout);
    CHECK(restart_only_changes(running, next) == "");
    CHECK(restart_only_changes(next, running) == "");
    // From TLS off to TLS on, and back.
    Config off;
    CHECK(restart_only_changes(off, next) == "");
    CHECK(restart_only_changes(next, off) == "");
}
