#include "tls_shims.h"

long fl_ssl_ctx_set_stream_mode(SSL_CTX *ctx) { return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS); }
long fl_ssl_ctx_set_read_ahead(SSL_CTX *ctx) { return SSL_CTX_set_read_ahead(ctx, 1); }
uint64_t fl_ssl_ctx_set_stream_options(SSL_CTX *ctx) { return SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION); }
int fl_ssl_ctx_set_min_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
int fl_ssl_set_min_version(SSL *ssl, int version) { return (int)SSL_set_min_proto_version(ssl, version); }
int fl_ssl_set_max_version(SSL *ssl, int version) { return (int)SSL_set_max_proto_version(ssl, version); }
int fl_ssl_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
int fl_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert) { return (int)SSL_CTX_add1_chain_cert(ctx, cert); }
int fl_ssl_cb_read_alert(void) { return SSL_CB_READ_ALERT; }
