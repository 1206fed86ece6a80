#include <event2/keyvalq_struct.h>
#include "http_shims.h"

struct evkeyval *fl_evkeyvalq_first(struct evkeyvalq *headers) { return headers->tqh_first; }
struct evkeyval *fl_evkeyval_next(struct evkeyval *field) { return field->next.tqe_next; }
const char *fl_evkeyval_key(struct evkeyval *field) { return field->key; }
const char *fl_evkeyval_value(struct evkeyval *field) { return field->value; }
