// evhttp's header list is a TAILQ (macros Swift cannot import): walking it, one line each.
#ifndef FAULTLINE_HTTP_SHIMS_H
#define FAULTLINE_HTTP_SHIMS_H
#include <features.h>

struct evkeyvalq;
struct evkeyval;

/// The first header of `headers`, or NULL.
struct evkeyval *fl_evkeyvalq_first(struct evkeyvalq *headers);
/// The header after `field`, or NULL.
struct evkeyval *fl_evkeyval_next(struct evkeyval *field);
/// A header's name.
const char *fl_evkeyval_key(struct evkeyval *field);
/// A header's value.
const char *fl_evkeyval_value(struct evkeyval *field);

#endif
