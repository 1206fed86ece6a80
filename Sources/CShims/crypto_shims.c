#include "crypto_shims.h"

long fl_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
int fl_sk_GENERAL_NAME_push(GENERAL_NAMES *names, GENERAL_NAME *name) { return sk_GENERAL_NAME_push(names, name); }
