// Minimal Linux TUN access for Node (N-API, plain C). Opens /dev/net/tun with TUNSETIFF
// (IFF_TUN | IFF_NO_PI, so each read is exactly one IP packet), and reads packets on Node's own
// event loop through a uv_poll watcher: no threads, no blocking reads. Writes are one write(2) per packet.
//
// JS API:
//   open(name: string, offload?: boolean) -> { fd: number, name: string }   // name "" lets the kernel pick;
//                                                             // offload: IFF_VNET_HDR + TUNSETOFFLOAD (TSO4, csum):
//                                                             // each read/write starts with a 10-byte virtio_net_hdr
//   writev(fd: number, header: Buffer, packet: Buffer) -> boolean // one packet behind its vnet header (writev(2))
//   startReader(fd, mtu, slab: Buffer, cb: (lengths: number[] | null, error?: string) => void) -> reader
//                                                             // each batch is read into `slab` (the caller's, reused),
//                                                             // packets back to back; null + error: the device failed
//   stopReader(reader) -> undefined                            // stops polling; safe to call twice
//   pauseReader(reader, paused: boolean) -> undefined          // backpressure: stop/start reading; unread packets
//                                                             // wait in the device's queue (txqueuelen)
//   write(fd: number, packet: Buffer) -> boolean               // false when the packet was not taken (dropped)
//   close(fd: number) -> undefined
//   raiseAmbientNetAdmin() -> boolean                         // pass CAP_NET_ADMIN on to `ip`/`nft` children
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BATCH 64

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  const char *name = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == ENOENT ? "ENOENT"
                   : err == EBUSY ? "EBUSY" : err == EAGAIN ? "EAGAIN" : err == EINVAL ? "EINVAL" : "ERR_TUN";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, text, &error);
  napi_throw(env, error);
  return NULL;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool offload = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &offload);
  char name[64] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(name): name must be a string");
    return NULL;
  }
  if (len >= IFNAMSIZ) {
    napi_throw_range_error(env, NULL, "open(name): an interface name has at most 15 characters");
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  // The kernel may now hand us TCP segments of up to 64 KB (TSO4) and packets whose checksum is left to us
  // (CSUM), each behind a virtio_net_hdr saying so; it takes the same from us on write. No UDP offloads.
  if (offload && ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN)) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETOFFLOAD", err);
  }
  napi_value obj, jfd, jname;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &jfd);
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &jname);
  napi_set_named_property(env, obj, "fd", jfd);
  napi_set_named_property(env, obj, "name", jname);
  return obj;
}

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  int fd;
  int active;
  size_t cap;      /* the largest packet a read may return */
  size_t slab_cap; /* room for a batch (at least one whole `cap`) */
  char *buf;       /* the batch's packets back to back: the JS slab's memory */
  napi_ref slab;   /* keeps the slab alive while we read into it */
} reader_t;

static void on_poll_closed(uv_handle_t *h) {
  reader_t *r = h->data;
  free(r);
}

static void stop_reader(reader_t *r) {
  if (!r->active) return;
  r->active = 0;
  uv_poll_stop(&r->poll);
  napi_delete_reference(r->env, r->cb);
  napi_delete_reference(r->env, r->slab);
  uv_close((uv_handle_t *)&r->poll, on_poll_closed);
}

static void call_js(reader_t *r, napi_value arg0, napi_value arg1) {
  napi_value cb, global, result, argv[2] = {arg0, arg1};
  napi_get_reference_value(r->env, r->cb, &cb);
  napi_get_global(r->env, &global);
  napi_make_callback(r->env, NULL, global, cb, 2, argv, &result);
}

// The device failed for good (e.g. deleted with `ip link del`: reads give EBADFD and poll reports an error
// forever). Stop watching, so the loop does not spin, and tell JS once: callback(null, "<error text>").
static void fail_reader(reader_t *r, int err) {
  napi_value nul, text;
  uv_poll_stop(&r->poll);
  napi_get_null(r->env, &nul);
  napi_create_string_utf8(r->env, strerror(err), NAPI_AUTO_LENGTH, &text);
  call_js(r, nul, text);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  reader_t *r = handle->data;
  (void)events;
  if (!r->active) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (status < 0) {
    fail_reader(r, -status);
    napi_close_handle_scope(env, scope);
    return;
  }
  napi_value lens;
  napi_create_array(env, &lens);
  uint32_t n = 0;
  size_t off = 0;
  int err = 0;
  // Read several packets per wake-up (until EAGAIN or the slab is full) so a busy tunnel costs one JS call per
  // batch, not per packet, and no allocation: the packets lie back to back in the caller's slab, reused for
  // every batch, and JS takes views of them (copying what it keeps before the callback returns). A read
  // always has room for the largest packet, so each packet is seen whole.
  while (n < MAX_BATCH && r->slab_cap - off >= r->cap) {
    ssize_t got = read(r->fd, r->buf + off, r->cap);
    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) err = errno;
      break;
    }
    if (got == 0) break;
    napi_value len;
    napi_create_uint32(env, (uint32_t)got, &len);
    napi_set_element(env, lens, n++, len);
    off += (size_t)got;
  }
  if (n > 0) {
    napi_value unused;
    napi_get_undefined(env, &unused);
    call_js(r, lens, unused);
  }
  if (err && r->active) fail_reader(r, err);
  napi_close_handle_scope(env, scope);
}

static void finalize_reader(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
  // The reader frees itself when its poll handle closes (stopReader); nothing to do here.
}

static napi_value js_start_reader(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, mtu;
  napi_valuetype t;
  void *slab_data = NULL;
  size_t slab_len = 0;
  if (argc < 4 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &mtu) ||
      napi_get_buffer_info(env, argv[2], &slab_data, &slab_len) != napi_ok ||
      napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "startReader(fd, mtu, slab, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  reader_t *r = calloc(1, sizeof *r);
  r->env = env;
  r->fd = fd;
  // `mtu` is a hint only: never read less than a whole IPv4 packet can be, plus a virtio_net_hdr (offload).
  r->cap = (mtu > 65535 ? (size_t)mtu : 65535) + 16;
  if (slab_len < r->cap) {
    free(r);
    napi_throw_range_error(env, NULL, "startReader: the slab must hold one packet of 65535 bytes and its header");
    return NULL;
  }
  r->slab_cap = slab_len;
  r->buf = slab_data;
  r->poll.data = r;
  if (uv_poll_init(loop, &r->poll, fd) != 0) {
    free(r);
    return throw_errno(env, "uv_poll_init", EINVAL);
  }
  napi_create_reference(env, argv[2], 1, &r->slab);
  napi_create_reference(env, argv[3], 1, &r->cb);
  r->active = 1;
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  napi_value ext;
  napi_create_external(env, r, finalize_reader, NULL, &ext);
  return ext;
}

static napi_value js_stop_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "stopReader(reader)");
    return NULL;
  }
  stop_reader((reader_t *)data);
  return NULL;
}

static napi_value js_pause_reader(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  bool paused = false;
  if (argc < 2 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data ||
      napi_get_value_bool(env, argv[1], &paused) != napi_ok) {
    napi_throw_type_error(env, NULL, "pauseReader(reader, paused)");
    return NULL;
  }
  reader_t *r = data;
  if (r->active) {
    if (paused) uv_poll_stop(&r->poll);
    else uv_poll_start(&r->poll, UV_READABLE, on_readable);
  }
  return NULL;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  void *data;
  size_t len;
  if (argc < 2 || !get_int(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "write(fd, buffer)");
    return NULL;
  }
  // Any failure (queue full, a packet the kernel rejects, a device that is gone) means this packet is
  // dropped; a device that is gone for good is reported once through the reader's callback.
  ssize_t n = write(fd, data, len);
  napi_value ok;
  napi_get_boolean(env, n >= 0, &ok);
  return ok;
}

static napi_value js_writev(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  struct iovec iov[2];
  if (argc < 3 || !get_int(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &iov[0].iov_base, &iov[0].iov_len) != napi_ok ||
      napi_get_buffer_info(env, argv[2], &iov[1].iov_base, &iov[1].iov_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "writev(fd, header, packet)");
    return NULL;
  }
  ssize_t n = writev(fd, iov, 2);
  napi_value ok;
  napi_get_boolean(env, n >= 0, &ok);
  return ok;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd)) {
    napi_throw_type_error(env, NULL, "close(fd)");
    return NULL;
  }
  close(fd);
  return NULL;
}

// With `setcap cap_net_admin+ep node`, node holds CAP_NET_ADMIN but the `ip`/`nft` programs it runs would not
// (file capabilities are not inherited across exec). Raising it as an ambient capability passes it on to them.
// Returns true when the capability is now ambient (or we are root), false when we do not hold it at all.
static napi_value js_raise_ambient(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  int ok = 0;
  if (syscall(SYS_capget, &hdr, data) == 0 && (data[0].permitted & (1u << CAP_NET_ADMIN))) {
    data[0].inheritable |= 1u << CAP_NET_ADMIN;
    if (syscall(SYS_capset, &hdr, data) == 0 &&
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) == 0) ok = 1;
    if (getuid() == 0) ok = 1;
  }
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"startReader", NULL, js_start_reader, NULL, NULL, NULL, napi_default, NULL},
      {"stopReader", NULL, js_stop_reader, NULL, NULL, NULL, napi_default, NULL},
      {"pauseReader", NULL, js_pause_reader, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"writev", NULL, js_writev, NULL, NULL, NULL, napi_default, NULL},
      {"raiseAmbientNetAdmin", NULL, js_raise_ambient, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
