// OpenSSL macros Swift cannot import (ARCHITECTURE.md lists them). One line each, no logic.
#ifndef FAULTLINE_CRYPTO_SHIMS_H
#define FAULTLINE_CRYPTO_SHIMS_H
#include <features.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

/// BIO_get_mem_data: the bytes a memory BIO holds (not NUL-terminated) and their count.
long fl_BIO_get_mem_data(BIO *bio, char **data);
/// sk_GENERAL_NAME_push: appends `name` to `names`, which then owns it; 0 on failure.
int fl_sk_GENERAL_NAME_push(GENERAL_NAMES *names, GENERAL_NAME *name);

#endif
