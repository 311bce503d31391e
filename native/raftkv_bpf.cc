// raftkv_bpf: the node-addon-api addon over libbpf for raftkv's kernel fast path.
//
// It does only what JavaScript cannot: open and load a BPF object, attach an XDP
// program through a bpf_link (which vanishes with the process), map a
// BPF_F_MMAPABLE array into an ArrayBuffer, update/look up maps, drain a BPF ring
// buffer from the libuv loop (its epoll fd watched with uv_poll: no thread, no busy
// polling), and run a program on a packet with BPF_PROG_RUN. Everything else —
// layouts, policy, fallbacks — lives in src/offload/*.ts.
//
// Errors become JS exceptions with `errno`, `code` (e.g. 'EPERM') and `libbpfLog`
// (what libbpf printed during the failed call: for a load, the verifier's log).

#include <napi.h>
#include <uv.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---- libbpf's messages -------------------------------------------------------------------

// What libbpf printed since the last call into the addon (bounded). JS runs on one
// thread and every libbpf call here is synchronous, so no lock is needed.
std::string g_log;
bool g_debug = false;
constexpr size_t kLogMax = 256 * 1024;

int PrintFn(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG && !g_debug) return 0;
  char buf[8192];
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  if (n > 0) {
    g_log.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
    // Keep the tail: the verifier's verdict is at the end of its log.
    if (g_log.size() > kLogMax) g_log.erase(0, g_log.size() - kLogMax);
  }
  if (g_debug) fputs(buf, stderr);
  return 0;
}

std::string TakeLog() {
  std::string s;
  s.swap(g_log);
  return s;
}

Napi::Error MakeError(Napi::Env env, const std::string &what, int err) {
  if (err < 0) err = -err;
  std::string log = TakeLog();
  std::string msg = what + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, log.empty() ? msg : msg + "\n" + log);
  e.Set("errno", Napi::Number::New(env, err));
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("libbpfLog", Napi::String::New(env, log));
  return e;
}

std::string StringArg(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (info.Length() <= i || !info[i].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  }
  return info[i].As<Napi::Buffer<uint8_t>>();
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

class BpfObject;

// ---- RingBuf ----------------------------------------------------------------------------

// A BPF ring buffer drained from the libuv loop. On readability libuv calls OnPoll,
// which consumes every available record into one batch and calls the JS callback
// once with (Buffer of concatenated records, Uint32Array of their sizes).
class RingBuf : public Napi::ObjectWrap<RingBuf> {
 public:
  static Napi::FunctionReference ctor;

  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "RingBuf",
                                   {
                                       InstanceMethod("close", &RingBuf::Close),
                                       InstanceMethod("consume", &RingBuf::Consume),
                                       InstanceMethod("ref", &RingBuf::Ref),
                                       InstanceMethod("unref", &RingBuf::Unref),
                                   });
    ctor = Napi::Persistent(f);
    return f;
  }

  explicit RingBuf(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingBuf>(info) {}
  ~RingBuf() override { Shutdown(); }

  // Called by BpfObject.ringBuffer(); `owner` is kept alive while we are open.
  void Start(Napi::Env env, Napi::Object owner, int map_fd, Napi::Function cb) {
    TakeLog();
    rb_ = ring_buffer__new(map_fd, &RingBuf::OnSample, this, nullptr);
    if (!rb_) throw MakeError(env, "ring_buffer__new", errno);
    uv_loop_t *loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
      Shutdown();
      throw Napi::Error::New(env, "no libuv loop");
    }
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    if (r != 0) {
      delete poll_;
      poll_ = nullptr;
      Shutdown();
      throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(r));
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, &RingBuf::OnPoll);
    // By default the watcher does not keep the process alive (ref() makes it).
    uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
    cb_ = Napi::Persistent(cb);
    owner_ = Napi::Persistent(owner);
    self_ = Napi::Persistent(Value()); // alive while open, even if JS drops it
  }

  void Shutdown() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t *>(poll_),
               [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      poll_ = nullptr;
    }
    if (rb_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
  }

  bool open() const { return rb_ != nullptr; }

  // Closes from BpfObject.close() (the map is about to go).
  void CloseFromOwner() {
    Shutdown();
    if (!cb_.IsEmpty()) cb_.Reset();
    if (!owner_.IsEmpty()) owner_.Reset();
    if (!self_.IsEmpty()) self_.Reset();
  }

 private:
  static int OnSample(void *ctx, void *data, size_t size) {
    auto *self = static_cast<RingBuf *>(ctx);
    const auto *p = static_cast<const uint8_t *>(data);
    self->batch_.insert(self->batch_.end(), p, p + size);
    self->sizes_.push_back(static_cast<uint32_t>(size));
    return 0;
  }

  static void OnPoll(uv_poll_t *h, int status, int /*events*/) {
    auto *self = static_cast<RingBuf *>(h->data);
    if (status < 0 || !self || !self->rb_) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      self->Drain(env);
    } catch (const Napi::Error &e) {
      // A throwing callback is an uncaught exception of the process, as for any event.
      napi_fatal_exception(env, e.Value());
    }
  }

  // Consumes what is there and delivers it; returns the number of records.
  size_t Drain(Napi::Env env) {
    batch_.clear();
    sizes_.clear();
    int n = ring_buffer__consume(rb_);
    if (n < 0) throw MakeError(env, "ring_buffer__consume", n);
    if (sizes_.empty()) return 0;
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, batch_.data(), batch_.size());
    Napi::Uint32Array sizes = Napi::Uint32Array::New(env, sizes_.size());
    std::memcpy(sizes.Data(), sizes_.data(), sizes_.size() * sizeof(uint32_t));
    size_t count = sizes_.size();
    cb_.MakeCallback(Value(), {buf, sizes});
    return count;
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    CloseFromOwner();
    return info.Env().Undefined();
  }

  // Drains synchronously (tests; or a caller that wants events before deciding).
  Napi::Value Consume(const Napi::CallbackInfo &info) {
    if (!rb_) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(Drain(info.Env())));
  }

  Napi::Value Ref(const Napi::CallbackInfo &info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t *>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo &info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
    return info.Env().Undefined();
  }

  ring_buffer *rb_ = nullptr;
  uv_poll_t *poll_ = nullptr;
  Napi::FunctionReference cb_;
  Napi::ObjectReference owner_;
  Napi::ObjectReference self_;
  std::vector<uint8_t> batch_;
  std::vector<uint32_t> sizes_;
};

Napi::FunctionReference RingBuf::ctor;

// ---- BpfObject --------------------------------------------------------------------------

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod("load", &BpfObject::Load),
                           InstanceMethod("programs", &BpfObject::Programs),
                           InstanceMethod("maps", &BpfObject::Maps),
                           InstanceMethod("mapInfo", &BpfObject::MapInfo),
                           InstanceMethod("attachXdp", &BpfObject::AttachXdp),
                           InstanceMethod("detach", &BpfObject::Detach),
                           InstanceMethod("mmapMap", &BpfObject::MmapMap),
                           InstanceMethod("mapUpdate", &BpfObject::MapUpdate),
                           InstanceMethod("mapLookup", &BpfObject::MapLookup),
                           InstanceMethod("mapDelete", &BpfObject::MapDelete),
                           InstanceMethod("testRun", &BpfObject::TestRun),
                           InstanceMethod("ringBuffer", &BpfObject::RingBuffer),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  // new BpfObject(path): opens (parses) the ELF object; load() creates maps and programs.
  explicit BpfObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfObject>(info) {
    std::string path = StringArg(info, 0, "path");
    TakeLog();
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_) throw MakeError(info.Env(), "bpf_object__open_file(" + path + ")", errno);
  }

  ~BpfObject() override { Release(); }

 private:
  void Release() {
    for (RingBuf *r : rings_) r->CloseFromOwner();
    rings_.clear();
    for (int fd : links_) close(fd); // closing a link's last fd detaches it
    links_.clear();
    for (auto &ref : mmaps_) {
      // Views of a closed object must not touch the pages (the finalizer unmaps).
      if (!ref.IsEmpty()) {
        Napi::Value v = ref.Value();
        if (v.IsArrayBuffer()) {
          Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
          if (!ab.IsDetached()) ab.Detach();
        }
        ref.Reset();
      }
    }
    mmaps_.clear();
    if (obj_) {
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  void CheckOpen(Napi::Env env) {
    if (!obj_) throw Napi::Error::New(env, "BPF object is closed");
  }

  bpf_map *FindMap(Napi::Env env, const std::string &name) {
    CheckOpen(env);
    bpf_map *m = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!m) throw MakeError(env, "no map named " + name, ENOENT);
    return m;
  }

  int MapFd(Napi::Env env, bpf_map *m, const std::string &name) {
    int fd = bpf_map__fd(m);
    if (fd < 0) throw MakeError(env, "map " + name + " is not loaded", EBADF);
    return fd;
  }

  int ProgFd(Napi::Env env, const std::string &name) {
    CheckOpen(env);
    bpf_program *p = bpf_object__find_program_by_name(obj_, name.c_str());
    if (!p) throw MakeError(env, "no program named " + name, ENOENT);
    int fd = bpf_program__fd(p);
    if (fd < 0) throw MakeError(env, "program " + name + " is not loaded", EBADF);
    return fd;
  }

  // Bytes of one value as user space sees it (per-CPU maps: one 8-aligned value per CPU).
  size_t ValueBytes(bpf_map *m) {
    size_t v = bpf_map__value_size(m);
    switch (bpf_map__type(m)) {
      case BPF_MAP_TYPE_PERCPU_ARRAY:
      case BPF_MAP_TYPE_PERCPU_HASH:
      case BPF_MAP_TYPE_LRU_PERCPU_HASH: {
        int cpus = libbpf_num_possible_cpus();
        return RoundUp(v, 8) * static_cast<size_t>(cpus > 0 ? cpus : 1);
      }
      default:
        return v;
    }
  }

  Napi::Value Load(const Napi::CallbackInfo &info) {
    CheckOpen(info.Env());
    TakeLog();
    int err = bpf_object__load(obj_);
    if (err) throw MakeError(info.Env(), "bpf_object__load", err);
    TakeLog();
    return info.Env().Undefined();
  }

  Napi::Value Programs(const Napi::CallbackInfo &info) {
    CheckOpen(info.Env());
    Napi::Array a = Napi::Array::New(info.Env());
    bpf_program *p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, obj_) a.Set(i++, Napi::String::New(info.Env(), bpf_program__name(p)));
    return a;
  }

  Napi::Value Maps(const Napi::CallbackInfo &info) {
    CheckOpen(info.Env());
    Napi::Array a = Napi::Array::New(info.Env());
    bpf_map *m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj_) a.Set(i++, Napi::String::New(info.Env(), bpf_map__name(m)));
    return a;
  }

  Napi::Value MapInfo(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "map name");
    bpf_map *m = FindMap(env, name);
    Napi::Object o = Napi::Object::New(env);
    o.Set("fd", Napi::Number::New(env, bpf_map__fd(m)));
    o.Set("type", Napi::Number::New(env, bpf_map__type(m)));
    o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(m)));
    o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(m)));
    o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(m)));
    o.Set("flags", Napi::Number::New(env, bpf_map__map_flags(m)));
    return o;
  }

  // attachXdp(prog, ifindex, mode: 'native'|'generic'|'offload'|'default') → link id.
  Napi::Value AttachXdp(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string prog = StringArg(info, 0, "program name");
    if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "ifindex must be a number");
    int ifindex = info[1].As<Napi::Number>().Int32Value();
    std::string mode = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "default";
    __u32 flags = 0;
    if (mode == "native") flags = XDP_FLAGS_DRV_MODE;
    else if (mode == "generic") flags = XDP_FLAGS_SKB_MODE;
    else if (mode == "offload") flags = XDP_FLAGS_HW_MODE;
    else if (mode != "default") throw Napi::TypeError::New(env, "mode must be native, generic, offload or default");
    int prog_fd = ProgFd(env, prog);
    TakeLog();
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
    if (fd < 0) throw MakeError(env, "bpf_link_create(XDP, ifindex " + std::to_string(ifindex) + ", " + mode + ")", errno);
    links_.push_back(fd);
    return Napi::Number::New(env, fd);
  }

  // detach(linkId): closes the link, which detaches the program.
  Napi::Value Detach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "link id must be a number");
    int fd = info[0].As<Napi::Number>().Int32Value();
    for (size_t i = 0; i < links_.size(); i++) {
      if (links_[i] == fd) {
        links_.erase(links_.begin() + static_cast<long>(i));
        close(fd);
        return Napi::Boolean::New(env, true);
      }
    }
    return Napi::Boolean::New(env, false);
  }

  // mmapMap(name) → ArrayBuffer over the whole BPF_F_MMAPABLE array (all slots).
  Napi::Value MmapMap(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "map name");
    bpf_map *m = FindMap(env, name);
    if (!(bpf_map__map_flags(m) & BPF_F_MMAPABLE)) throw MakeError(env, "map " + name + " is not BPF_F_MMAPABLE", EINVAL);
    int fd = MapFd(env, m, name);
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t len = RoundUp(RoundUp(bpf_map__value_size(m), 8) * bpf_map__max_entries(m), page);
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) throw MakeError(env, "mmap(" + name + ")", errno);
    // The mapping holds its own reference on the map, so the pages stay valid
    // until the finalizer unmaps them, whatever happens to the object.
    auto *hint = new size_t(len);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, p, len, [](Napi::Env, void *data, size_t *n) { munmap(data, *n); delete n; }, hint);
    mmaps_.push_back(Napi::Weak(ab));
    return ab;
  }

  // mapUpdate(name, key, value, flags = BPF_ANY)
  Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "map name");
    bpf_map *m = FindMap(env, name);
    auto key = BufferArg(info, 1, "key");
    auto val = BufferArg(info, 2, "value");
    __u64 flags = info.Length() > 3 && info[3].IsNumber() ? static_cast<__u64>(info[3].As<Napi::Number>().Int64Value()) : static_cast<__u64>(BPF_ANY);
    if (key.Length() != bpf_map__key_size(m)) throw MakeError(env, "mapUpdate(" + name + "): key size", EINVAL);
    if (val.Length() != ValueBytes(m)) throw MakeError(env, "mapUpdate(" + name + "): value size", EINVAL);
    TakeLog();
    if (bpf_map_update_elem(MapFd(env, m, name), key.Data(), val.Data(), flags)) {
      throw MakeError(env, "bpf_map_update_elem(" + name + ")", errno);
    }
    return env.Undefined();
  }

  // mapLookup(name, key) → Buffer (per-CPU maps: one value per possible CPU) or null.
  Napi::Value MapLookup(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "map name");
    bpf_map *m = FindMap(env, name);
    auto key = BufferArg(info, 1, "key");
    if (key.Length() != bpf_map__key_size(m)) throw MakeError(env, "mapLookup(" + name + "): key size", EINVAL);
    std::vector<uint8_t> out(ValueBytes(m));
    TakeLog();
    if (bpf_map_lookup_elem(MapFd(env, m, name), key.Data(), out.data())) {
      if (errno == ENOENT) return env.Null();
      throw MakeError(env, "bpf_map_lookup_elem(" + name + ")", errno);
    }
    return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
  }

  Napi::Value MapDelete(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "map name");
    bpf_map *m = FindMap(env, name);
    auto key = BufferArg(info, 1, "key");
    if (key.Length() != bpf_map__key_size(m)) throw MakeError(env, "mapDelete(" + name + "): key size", EINVAL);
    if (bpf_map_delete_elem(MapFd(env, m, name), key.Data())) {
      if (errno == ENOENT) return Napi::Boolean::New(env, false);
      throw MakeError(env, "bpf_map_delete_elem(" + name + ")", errno);
    }
    return Napi::Boolean::New(env, true);
  }

  // testRun(prog, packet, repeat = 1) → { retval, data, duration } (BPF_PROG_RUN).
  Napi::Value TestRun(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string prog = StringArg(info, 0, "program name");
    auto pkt = BufferArg(info, 1, "packet");
    int repeat = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 1;
    int fd = ProgFd(env, prog);
    // Room for a program that grows the packet (XDP may add up to a page of tail).
    std::vector<uint8_t> out(pkt.Length() + 4096);
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = pkt.Data();
    opts.data_size_in = static_cast<__u32>(pkt.Length());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<__u32>(out.size());
    opts.repeat = repeat;
    TakeLog();
    int err = bpf_prog_test_run_opts(fd, &opts);
    if (err) throw MakeError(env, "bpf_prog_test_run_opts(" + prog + ")", err < 0 ? -err : errno);
    Napi::Object o = Napi::Object::New(env);
    o.Set("retval", Napi::Number::New(env, opts.retval));
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out));
    o.Set("duration", Napi::Number::New(env, opts.duration));
    return o;
  }

  // ringBuffer(mapName, callback(records: Buffer, sizes: Uint32Array)) → RingBuf
  Napi::Value RingBuffer(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "map name");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
    bpf_map *m = FindMap(env, name);
    int fd = MapFd(env, m, name);
    Napi::Object rbo = RingBuf::ctor.New({});
    RingBuf *rb = RingBuf::Unwrap(rbo);
    rb->Start(env, Value(), fd, info[1].As<Napi::Function>());
    rings_.push_back(rb);
    return rbo;
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Release();
    return info.Env().Undefined();
  }

  bpf_object *obj_ = nullptr;
  std::vector<int> links_;
  std::vector<RingBuf *> rings_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> mmaps_;
};

// ---- module functions --------------------------------------------------------------------

Napi::Value IfIndex(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0, "interface name");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) throw MakeError(info.Env(), "if_nametoindex(" + name + ")", errno);
  return Napi::Number::New(info.Env(), idx);
}

// xdpQuery(ifindex) → { progId, mode: 'none'|'native'|'generic'|'offload'|'multi' }
Napi::Value XdpQuery(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "ifindex must be a number");
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  TakeLog();
  int err = bpf_xdp_query(info[0].As<Napi::Number>().Int32Value(), 0, &q);
  if (err) throw MakeError(env, "bpf_xdp_query", err);
  const char *mode = "none";
  switch (q.attach_mode) {
    case XDP_ATTACHED_DRV: mode = "native"; break;
    case XDP_ATTACHED_SKB: mode = "generic"; break;
    case XDP_ATTACHED_HW: mode = "offload"; break;
    case XDP_ATTACHED_MULTI: mode = "multi"; break;
    default: break;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("progId", Napi::Number::New(env, q.prog_id));
  o.Set("mode", Napi::String::New(env, mode));
  return o;
}

Napi::Value SetDebug(const Napi::CallbackInfo &info) {
  g_debug = info.Length() > 0 && info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

Napi::Value NumCpus(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), libbpf_num_possible_cpus());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(PrintFn);
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingBuf", RingBuf::Init(env));
  exports.Set("ifindex", Napi::Function::New(env, IfIndex));
  exports.Set("xdpQuery", Napi::Function::New(env, XdpQuery));
  exports.Set("setDebug", Napi::Function::New(env, SetDebug));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumCpus));
  return exports;
}

}  // namespace

NODE_API_MODULE(raftkv_bpf, Init)
