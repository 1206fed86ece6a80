// OpenSSL macros the TLS transport needs, as functions Swift can call. One line each.
#ifndef FAULTLINE_TLS_SHIMS_H
#define FAULTLINE_TLS_SHIMS_H
#include <features.h>
#include <stdint.h>
#include <openssl/ssl.h>

/// SSL_MODE_ENABLE_PARTIAL_WRITE | ACCEPT_MOVING_WRITE_BUFFER | RELEASE_BUFFERS on `ctx`.
long fl_ssl_ctx_set_stream_mode(SSL_CTX *ctx);
/// SSL_CTX_set_read_ahead(ctx, 1): one read(2) takes all the records the socket holds.
long fl_ssl_ctx_set_read_ahead(SSL_CTX *ctx);
/// SSL_OP_IGNORE_UNEXPECTED_EOF | NO_RENEGOTIATION | NO_COMPRESSION on `ctx`.
uint64_t fl_ssl_ctx_set_stream_options(SSL_CTX *ctx);
/// SSL_CTX_set_min_proto_version.
int fl_ssl_ctx_set_min_version(SSL_CTX *ctx, int version);
/// SSL_set_min_proto_version.
int fl_ssl_set_min_version(SSL *ssl, int version);
/// SSL_set_max_proto_version.
int fl_ssl_set_max_version(SSL *ssl, int version);
/// SSL_set_tlsext_host_name: the SNI a client sends.
int fl_ssl_set_sni(SSL *ssl, const char *name);
/// SSL_CTX_add1_chain_cert: a certificate sent after the leaf.
int fl_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert);
/// SSL_CB_READ_ALERT, for info callbacks.
int fl_ssl_cb_read_alert(void);

#endif
