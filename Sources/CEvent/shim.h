// libevent's event-config.h defines _GNU_SOURCE; <features.h> must come first or importing
// CEvent beside Glibc fails with an fd_set redefinition.
#include <features.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <event2/http.h>
