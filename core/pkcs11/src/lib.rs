//! PKCS#11 signing keys: the CA key of Fulcio (`--ca pkcs11ca`) and TUF role
//! keys of tuf-root stay in an HSM; callers sign through [`Pkcs11Signer`].
//!
//! Hand-written FFI over `dlopen`/`dlsym` (no binding crate: see the PR that
//! added this module). Every `unsafe` block of the crate that touches PKCS#11
//! is in this file, behind a safe API:
//!
//! * [`Pkcs11Config`]: upstream Fulcio's `--pkcs11-config-path` file (the
//!   crypto11 JSON format: `{"Path":…,"TokenLabel":…,"Pin":…}`).
//! * [`Pkcs11Signer`]: an ECDSA P-256 private key found by `CKA_LABEL`, with
//!   its public key read from the public key object of the same label.
//! * [`generate_key`]: a new non-extractable P-256 key pair on the token.
//!
//! Ownership and thread-safety invariants:
//!
//! * A module (shared library) is loaded and `C_Initialize`d once per process
//!   and path, in a process-wide registry; every [`Session`] and signer holds a
//!   counted reference, and the last one to go calls `C_Finalize` and
//!   `dlclose` while holding the registry lock, so that initialization and
//!   finalization never race and no session outlives its module.
//! * The module is initialized with `CKF_OS_LOCKING_OK`: calls on *different*
//!   sessions may run concurrently. A PKCS#11 session is not thread-safe, so a
//!   session is only ever used by the thread that took it out of the signer's
//!   pool (`Mutex` + `Condvar`, at most `MaxSessions` open).
//! * Login state belongs to the application and the token, not to a session,
//!   and it ends when the application's last session on the token closes. The
//!   signer keeps one logged-in session open for its whole life; pool sessions
//!   opened later share that login.
//! * Object handles are looked up per session (a handle is only guaranteed to
//!   be valid in the session that found it).
//! * The PIN is never logged or formatted: [`Pkcs11Config`]'s `Debug` redacts
//!   it, errors never contain it, and its buffer is overwritten on drop.

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::os::raw::c_ulong;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use der::Decode;
use sha2::{Digest, Sha256};
use sigstack_core::keys::{HashAlgorithm, PublicKey};

// ---------------------------------------------------------------------------
// PKCS#11 v2.40 types and constants (pkcs11t.h). CK_ULONG is `unsigned long`,
// which is 64 bits on LP64 Linux and matches `c_ulong` everywhere.

type CkUlong = c_ulong;
type CkRv = CkUlong;
type CkSlotId = CkUlong;
type CkSessionHandle = CkUlong;
type CkObjectHandle = CkUlong;
type CkFlags = CkUlong;
type CkBbool = u8;

const CK_TRUE: CkBbool = 1;
const CK_FALSE: CkBbool = 0;
const CK_UNAVAILABLE_INFORMATION: CkUlong = !0;

const CKR_OK: CkRv = 0x000;
const CKR_CRYPTOKI_ALREADY_INITIALIZED: CkRv = 0x191;
const CKR_USER_ALREADY_LOGGED_IN: CkRv = 0x100;
const CKR_PIN_INCORRECT: CkRv = 0x0A0;
const CKR_PIN_LOCKED: CkRv = 0x0A4;
const CKR_BUFFER_TOO_SMALL: CkRv = 0x150;

const CKF_OS_LOCKING_OK: CkFlags = 0x2;
const CKF_RW_SESSION: CkFlags = 0x2;
const CKF_SERIAL_SESSION: CkFlags = 0x4;

const CKU_USER: CkUlong = 1;

const CKO_PUBLIC_KEY: CkUlong = 2;
const CKO_PRIVATE_KEY: CkUlong = 3;
const CKK_EC: CkUlong = 3;

const CKA_CLASS: CkUlong = 0x000;
const CKA_TOKEN: CkUlong = 0x001;
const CKA_PRIVATE: CkUlong = 0x002;
const CKA_LABEL: CkUlong = 0x003;
const CKA_KEY_TYPE: CkUlong = 0x100;
const CKA_ID: CkUlong = 0x102;
const CKA_SENSITIVE: CkUlong = 0x103;
const CKA_SIGN: CkUlong = 0x108;
const CKA_VERIFY: CkUlong = 0x10A;
const CKA_EXTRACTABLE: CkUlong = 0x162;
const CKA_EC_PARAMS: CkUlong = 0x180;
const CKA_EC_POINT: CkUlong = 0x181;

const CKM_EC_KEY_PAIR_GEN: CkUlong = 0x1040;
const CKM_ECDSA: CkUlong = 0x1041;

/// DER of the named curve OID prime256v1 (1.2.840.10045.3.1.7), the value of
/// `CKA_EC_PARAMS` for P-256.
const P256_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Upstream's default `--hsm-key-label`.
pub const DEFAULT_KEY_LABEL: &str = "PKCS11CA";

// Fields are read or written by the module, not always by Rust.
#[allow(dead_code)]
#[repr(C)]
#[derive(Clone, Copy)]
struct CkVersion {
    major: u8,
    minor: u8,
}

// Fields are read or written by the module, not always by Rust.
#[allow(dead_code)]
#[repr(C)]
struct CkAttribute {
    type_: CkUlong,
    p_value: *mut c_void,
    ul_value_len: CkUlong,
}

// Fields are read or written by the module, not always by Rust.
#[allow(dead_code)]
#[repr(C)]
struct CkMechanism {
    mechanism: CkUlong,
    p_parameter: *mut c_void,
    ul_parameter_len: CkUlong,
}

// Fields are read or written by the module, not always by Rust.
#[allow(dead_code)]
#[repr(C)]
struct CkCInitializeArgs {
    create_mutex: *mut c_void,
    destroy_mutex: *mut c_void,
    lock_mutex: *mut c_void,
    unlock_mutex: *mut c_void,
    flags: CkFlags,
    p_reserved: *mut c_void,
}

// Fields are read or written by the module, not always by Rust.
#[allow(dead_code)]
#[repr(C)]
struct CkTokenInfo {
    label: [u8; 32],
    manufacturer_id: [u8; 32],
    model: [u8; 16],
    serial_number: [u8; 16],
    flags: CkFlags,
    ul_max_session_count: CkUlong,
    ul_session_count: CkUlong,
    ul_max_rw_session_count: CkUlong,
    ul_rw_session_count: CkUlong,
    ul_max_pin_len: CkUlong,
    ul_min_pin_len: CkUlong,
    ul_total_public_memory: CkUlong,
    ul_free_public_memory: CkUlong,
    ul_total_private_memory: CkUlong,
    ul_free_private_memory: CkUlong,
    hardware_version: CkVersion,
    firmware_version: CkVersion,
    utc_time: [u8; 16],
}

/// A function-list slot this module never calls (pointer-sized, nullable).
type Unused = Option<unsafe extern "C" fn()>;
type CkNotify = Option<unsafe extern "C" fn(CkSessionHandle, CkUlong, *mut c_void) -> CkRv>;

/// The prefix of `CK_FUNCTION_LIST` up to `C_GenerateKeyPair`, in the order
/// of pkcs11f.h (v2.40). The module owns the real (longer) struct; we only
/// read through a pointer to it, never copy or write it.
#[repr(C)]
struct CkFunctionList {
    version: CkVersion,
    c_initialize: Option<unsafe extern "C" fn(*mut c_void) -> CkRv>,
    c_finalize: Option<unsafe extern "C" fn(*mut c_void) -> CkRv>,
    _c_get_info: Unused,
    _c_get_function_list: Unused,
    c_get_slot_list: Option<unsafe extern "C" fn(CkBbool, *mut CkSlotId, *mut CkUlong) -> CkRv>,
    _c_get_slot_info: Unused,
    c_get_token_info: Option<unsafe extern "C" fn(CkSlotId, *mut CkTokenInfo) -> CkRv>,
    _c_get_mechanism_list: Unused,
    _c_get_mechanism_info: Unused,
    _c_init_token: Unused,
    _c_init_pin: Unused,
    _c_set_pin: Unused,
    c_open_session: Option<
        unsafe extern "C" fn(
            CkSlotId,
            CkFlags,
            *mut c_void,
            CkNotify,
            *mut CkSessionHandle,
        ) -> CkRv,
    >,
    c_close_session: Option<unsafe extern "C" fn(CkSessionHandle) -> CkRv>,
    _c_close_all_sessions: Unused,
    _c_get_session_info: Unused,
    _c_get_operation_state: Unused,
    _c_set_operation_state: Unused,
    c_login: Option<unsafe extern "C" fn(CkSessionHandle, CkUlong, *const u8, CkUlong) -> CkRv>,
    _c_logout: Unused,
    _c_create_object: Unused,
    _c_copy_object: Unused,
    _c_destroy_object: Unused,
    _c_get_object_size: Unused,
    c_get_attribute_value: Option<
        unsafe extern "C" fn(CkSessionHandle, CkObjectHandle, *mut CkAttribute, CkUlong) -> CkRv,
    >,
    _c_set_attribute_value: Unused,
    c_find_objects_init:
        Option<unsafe extern "C" fn(CkSessionHandle, *mut CkAttribute, CkUlong) -> CkRv>,
    c_find_objects: Option<
        unsafe extern "C" fn(CkSessionHandle, *mut CkObjectHandle, CkUlong, *mut CkUlong) -> CkRv,
    >,
    c_find_objects_final: Option<unsafe extern "C" fn(CkSessionHandle) -> CkRv>,
    _c_encrypt_init: Unused,
    _c_encrypt: Unused,
    _c_encrypt_update: Unused,
    _c_encrypt_final: Unused,
    _c_decrypt_init: Unused,
    _c_decrypt: Unused,
    _c_decrypt_update: Unused,
    _c_decrypt_final: Unused,
    _c_digest_init: Unused,
    _c_digest: Unused,
    _c_digest_update: Unused,
    _c_digest_key: Unused,
    _c_digest_final: Unused,
    c_sign_init:
        Option<unsafe extern "C" fn(CkSessionHandle, *mut CkMechanism, CkObjectHandle) -> CkRv>,
    c_sign: Option<
        unsafe extern "C" fn(CkSessionHandle, *const u8, CkUlong, *mut u8, *mut CkUlong) -> CkRv,
    >,
    _c_sign_update: Unused,
    _c_sign_final: Unused,
    _c_sign_recover_init: Unused,
    _c_sign_recover: Unused,
    _c_verify_init: Unused,
    _c_verify: Unused,
    _c_verify_update: Unused,
    _c_verify_final: Unused,
    _c_verify_recover_init: Unused,
    _c_verify_recover: Unused,
    _c_digest_encrypt_update: Unused,
    _c_decrypt_digest_update: Unused,
    _c_sign_encrypt_update: Unused,
    _c_decrypt_verify_update: Unused,
    _c_generate_key: Unused,
    c_generate_key_pair: Option<
        unsafe extern "C" fn(
            CkSessionHandle,
            *mut CkMechanism,
            *mut CkAttribute,
            CkUlong,
            *mut CkAttribute,
            CkUlong,
            *mut CkObjectHandle,
            *mut CkObjectHandle,
        ) -> CkRv,
    >,
}

type CGetFunctionList = unsafe extern "C" fn(*mut *const CkFunctionList) -> CkRv;

// ---------------------------------------------------------------------------
// Errors

/// A PKCS#11 return value, shown with its spec name where we know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rv(pub c_ulong);

impl std::fmt::Display for Rv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            0x000 => "CKR_OK",
            0x001 => "CKR_CANCEL",
            0x002 => "CKR_HOST_MEMORY",
            0x003 => "CKR_SLOT_ID_INVALID",
            0x005 => "CKR_GENERAL_ERROR",
            0x006 => "CKR_FUNCTION_FAILED",
            0x007 => "CKR_ARGUMENTS_BAD",
            0x00A => "CKR_CANT_LOCK",
            0x010 => "CKR_ATTRIBUTE_READ_ONLY",
            0x011 => "CKR_ATTRIBUTE_SENSITIVE",
            0x012 => "CKR_ATTRIBUTE_TYPE_INVALID",
            0x013 => "CKR_ATTRIBUTE_VALUE_INVALID",
            0x030 => "CKR_DEVICE_ERROR",
            0x031 => "CKR_DEVICE_MEMORY",
            0x032 => "CKR_DEVICE_REMOVED",
            0x054 => "CKR_FUNCTION_NOT_SUPPORTED",
            0x060 => "CKR_KEY_HANDLE_INVALID",
            0x063 => "CKR_KEY_TYPE_INCONSISTENT",
            0x068 => "CKR_KEY_FUNCTION_NOT_PERMITTED",
            0x070 => "CKR_MECHANISM_INVALID",
            0x071 => "CKR_MECHANISM_PARAM_INVALID",
            0x082 => "CKR_OBJECT_HANDLE_INVALID",
            0x090 => "CKR_OPERATION_ACTIVE",
            0x091 => "CKR_OPERATION_NOT_INITIALIZED",
            0x0A0 => "CKR_PIN_INCORRECT",
            0x0A1 => "CKR_PIN_INVALID",
            0x0A2 => "CKR_PIN_LEN_RANGE",
            0x0A3 => "CKR_PIN_EXPIRED",
            0x0A4 => "CKR_PIN_LOCKED",
            0x0B0 => "CKR_SESSION_CLOSED",
            0x0B1 => "CKR_SESSION_COUNT",
            0x0B3 => "CKR_SESSION_HANDLE_INVALID",
            0x0B5 => "CKR_SESSION_READ_ONLY",
            0x0D0 => "CKR_TEMPLATE_INCOMPLETE",
            0x0D1 => "CKR_TEMPLATE_INCONSISTENT",
            0x0E0 => "CKR_TOKEN_NOT_PRESENT",
            0x0E1 => "CKR_TOKEN_NOT_RECOGNIZED",
            0x0E2 => "CKR_TOKEN_WRITE_PROTECTED",
            0x100 => "CKR_USER_ALREADY_LOGGED_IN",
            0x101 => "CKR_USER_NOT_LOGGED_IN",
            0x102 => "CKR_USER_PIN_NOT_INITIALIZED",
            0x103 => "CKR_USER_TYPE_INVALID",
            0x150 => "CKR_BUFFER_TOO_SMALL",
            0x190 => "CKR_CRYPTOKI_NOT_INITIALIZED",
            0x191 => "CKR_CRYPTOKI_ALREADY_INITIALIZED",
            _ => "",
        };
        if name.is_empty() {
            write!(f, "CKR 0x{:x}", self.0)
        } else {
            write!(f, "{name} (0x{:x})", self.0)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("PKCS#11 config {origin}: {msg}")]
    Config { origin: String, msg: String },
    #[error("PKCS#11 module {path}: {msg}")]
    Load { path: String, msg: String },
    #[error("PKCS#11 {func} failed: {rv}")]
    Call { func: &'static str, rv: Rv },
    #[error("PKCS#11 token {token} not found in module {module} (tokens present: {present})")]
    TokenNotFound {
        token: String,
        module: String,
        present: String,
    },
    #[error("PKCS#11 token {token}: more than one token matches")]
    TokenAmbiguous { token: String },
    #[error("PKCS#11 login to token {token} failed: {rv} (wrong or locked PIN)")]
    PinIncorrect { token: String, rv: Rv },
    #[error(
        "PKCS#11 token {token}: no {kind} object with label {label:?} (check --hsm-key-label)"
    )]
    KeyNotFound {
        token: String,
        label: String,
        kind: &'static str,
    },
    #[error(
        "PKCS#11 token {token}: {count} {kind} objects have label {label:?}; labels must be unique"
    )]
    KeyAmbiguous {
        token: String,
        label: String,
        kind: &'static str,
        count: usize,
    },
    #[error("PKCS#11 token {token}: a key labelled {label:?} already exists; refusing to create another")]
    KeyExists { token: String, label: String },
    #[error("PKCS#11 key {label:?}: {msg}")]
    Key { label: String, msg: String },
    #[error("{0}")]
    Uri(String),
}

fn check(func: &'static str, rv: CkRv) -> Result<(), Pkcs11Error> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(Pkcs11Error::Call { func, rv: Rv(rv) })
    }
}

// ---------------------------------------------------------------------------
// Key URIs

fn uri_error(msg: String) -> Pkcs11Error {
    Pkcs11Error::Uri(msg)
}

/// An RFC 7512 `pkcs11:` key reference, the parts this stack uses:
/// `pkcs11:token=T;object=LABEL?module-path=/path/lib.so&pin-value=1234`
/// (other attributes are accepted and ignored). `Debug` and
/// [`Pkcs11Uri::to_string_without_pin`] never show the PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    pub token: String,
    pub object: String,
    pub module_path: PathBuf,
    pin: Option<String>,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_without_pin())
    }
}

fn pct_decode(s: &str) -> Result<String, Pkcs11Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| uri_error(format!("bad percent-encoding in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| uri_error("PKCS#11 URI is not UTF-8".into()))
}

fn pct_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Pkcs11Uri {
    pub fn parse(uri: &str) -> Result<Self, Pkcs11Error> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| uri_error("not a pkcs11: URI".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut module, mut pin) = (None, None, None, None);
        let attrs = path
            .split(';')
            .map(|a| (a, false))
            .chain(query.split('&').map(|a| (a, true)));
        for (attr, in_query) in attrs.filter(|(a, _)| !a.is_empty()) {
            let (k, v) = attr.split_once('=').ok_or_else(|| {
                uri_error(format!(
                    "PKCS#11 URI attribute {k:?} has no value",
                    k = attr.split('=').next().unwrap_or("")
                ))
            })?;
            let v = pct_decode(v)?;
            match (k, in_query) {
                ("token", false) => token = Some(v),
                ("object", false) => object = Some(v),
                ("module-path", true) => module = Some(PathBuf::from(v)),
                ("pin-value", true) => pin = Some(v),
                // Other standard attributes (id, type, slot-id, ...) are not
                // needed to find a key by token and label.
                _ => {}
            }
        }
        let missing = |what: &str| uri_error(format!("PKCS#11 URI needs {what}"));
        Ok(Pkcs11Uri {
            token: token.ok_or_else(|| missing("token="))?,
            object: object.ok_or_else(|| missing("object= (the key label)"))?,
            module_path: module.ok_or_else(|| missing("?module-path="))?,
            pin,
        })
    }

    pub fn to_string_without_pin(&self) -> String {
        format!(
            "pkcs11:token={};object={}?module-path={}",
            pct_encode(&self.token),
            pct_encode(&self.object),
            pct_encode(&self.module_path.display().to_string())
        )
    }

    /// The token configuration: the URI's module and token, and its
    /// `pin-value`, else the PIN in the environment variable `pin_env`.
    pub fn config(&self, pin_env: &str) -> Result<Pkcs11Config, Pkcs11Error> {
        let pin = match &self.pin {
            Some(p) => p.clone(),
            None => std::env::var(pin_env).map_err(|_| {
                uri_error(format!(
                    "PKCS#11 key {}: no pin-value in the URI and {pin_env} is not set",
                    self.object
                ))
            })?,
        };
        Ok(Pkcs11Config::new(&self.module_path, &self.token, &pin))
    }
}

// ---------------------------------------------------------------------------
// Configuration

/// The PIN: never shown by `Debug`, overwritten on drop (best effort: copies
/// made by the JSON parser or the module are out of our hands).
#[derive(Clone)]
struct Pin(Vec<u8>);

impl Drop for Pin {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, exclusive reference to an initialized
            // byte; the volatile write keeps the compiler from eliding it.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Which token of the module holds the key (crypto11 allows exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    Label(String),
    Serial(String),
    Slot(c_ulong),
}

impl std::fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "with label {l:?}"),
            TokenSelector::Serial(s) => write!(f, "with serial {s:?}"),
            TokenSelector::Slot(n) => write!(f, "in slot {n}"),
        }
    }
}

/// Upstream Fulcio's `--pkcs11-config-path` file (crypto11's `Config` as
/// JSON). Keys are matched case-insensitively, as Go's `encoding/json` does;
/// keys we do not use are ignored, as crypto11 does.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// Absolute path of the PKCS#11 module (`Path`).
    pub module: PathBuf,
    /// `TokenLabel`, `TokenSerial` or `SlotNumber`.
    pub token: TokenSelector,
    pin: Pin,
    /// `MaxSessions`: sessions the signer may open for concurrent signing.
    pub max_sessions: usize,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("pin", &"<redacted>")
            .field("max_sessions", &self.max_sessions)
            .finish()
    }
}

const DEFAULT_MAX_SESSIONS: usize = 8;

impl Pkcs11Config {
    pub fn new(module: impl Into<PathBuf>, token_label: &str, pin: &str) -> Self {
        Pkcs11Config {
            module: module.into(),
            token: TokenSelector::Label(token_label.to_string()),
            pin: Pin(pin.as_bytes().to_vec()),
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }

    /// The same configuration with another PIN.
    pub fn with_pin(mut self, pin: &str) -> Self {
        self.pin = Pin(pin.as_bytes().to_vec());
        self
    }

    pub fn from_file(path: &Path) -> Result<Self, Pkcs11Error> {
        let origin = path.display().to_string();
        let mut bytes = std::fs::read(path).map_err(|e| Pkcs11Error::Config {
            origin: origin.clone(),
            msg: format!("cannot read: {e}"),
        })?;
        let parsed = Self::parse(&bytes, &origin);
        // The file holds the PIN: do not leave it in freed memory.
        drop(Pin(std::mem::take(&mut bytes)));
        parsed
    }

    /// Parses the JSON text; `origin` names it in errors. Errors never quote
    /// the input (it contains the PIN).
    pub fn parse(json: &[u8], origin: &str) -> Result<Self, Pkcs11Error> {
        let err = |msg: String| Pkcs11Error::Config {
            origin: origin.to_string(),
            msg,
        };
        let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
            // serde_json's messages give a position, never the content.
            err(format!("not valid JSON: {e}"))
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(err("expected a JSON object".into()));
        };
        let mut module = None;
        let mut label = None;
        let mut serial = None;
        let mut slot = None;
        let mut pin = None;
        let mut max_sessions = DEFAULT_MAX_SESSIONS;
        for (key, v) in map {
            let k = key.to_ascii_lowercase();
            let as_string = |v: serde_json::Value| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(err(format!("{key} must be a string"))),
            };
            match k.as_str() {
                "path" => module = Some(as_string(v)?),
                "tokenlabel" => label = Some(as_string(v)?).filter(|s| !s.is_empty()),
                "tokenserial" => serial = Some(as_string(v)?).filter(|s| !s.is_empty()),
                // null is Go's nil *int: not set.
                "slotnumber" if !v.is_null() => {
                    slot = Some(
                        v.as_u64()
                            .ok_or_else(|| err("SlotNumber must be a number".into()))?
                            as CkUlong,
                    )
                }
                "pin" => {
                    let s = as_string(v).map_err(|_| err("Pin must be a string".into()))?;
                    pin = Some(Pin(s.into_bytes()));
                }
                "maxsessions" => {
                    if let Some(n) = v.as_u64().filter(|n| *n > 0) {
                        max_sessions = usize::try_from(n).unwrap_or(DEFAULT_MAX_SESSIONS);
                    }
                }
                _ => {}
            }
        }
        let module = module
            .filter(|p| !p.is_empty())
            .ok_or_else(|| err("Path (the PKCS#11 module) is required".into()))?;
        let module = PathBuf::from(module);
        if !module.is_absolute() {
            // A bare name would be resolved through the library search path.
            return Err(err(format!(
                "Path must be absolute, got {}",
                module.display()
            )));
        }
        let token = match (label, serial, slot) {
            (Some(l), None, None) => TokenSelector::Label(l),
            (None, Some(s), None) => TokenSelector::Serial(s),
            (None, None, Some(n)) => TokenSelector::Slot(n),
            _ => {
                return Err(err(
                    "exactly one of TokenLabel, TokenSerial or SlotNumber is required".into(),
                ))
            }
        };
        let pin = pin
            .filter(|p| !p.0.is_empty())
            .ok_or_else(|| err("Pin is required".into()))?;
        Ok(Pkcs11Config {
            module,
            token,
            pin,
            max_sessions,
        })
    }
}

// ---------------------------------------------------------------------------
// Module loading (process-wide registry)

/// A loaded and initialized module.
struct Module {
    path: String,
    /// `dlopen` handle; closed by [`ModuleRef::drop`] of the last reference.
    lib: *mut c_void,
    /// Owned by the module, valid until `dlclose`.
    functions: *const CkFunctionList,
    /// False when another component of this process had already initialized
    /// the module: then it is theirs to finalize.
    we_initialized: bool,
}

// SAFETY: the pointers are only dereferenced while the module is loaded
// (guaranteed by the registry reference count), the function list is
// immutable, and the module was initialized with CKF_OS_LOCKING_OK, which
// makes its functions callable from any thread (per-session exclusivity is
// enforced by the callers, see the module docs).
unsafe impl Send for Module {}
unsafe impl Sync for Module {}

impl Module {
    fn f(&self) -> &CkFunctionList {
        // SAFETY: `functions` was checked non-null at load and stays valid
        // while any ModuleRef (and so `self`) is alive.
        unsafe { &*self.functions }
    }
}

struct Registry {
    modules: HashMap<PathBuf, (Arc<Module>, usize)>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Mutex::new(Registry {
            modules: HashMap::new(),
        })
    })
}

/// A counted reference to a loaded module.
struct ModuleRef {
    key: PathBuf,
    module: Arc<Module>,
}

impl std::ops::Deref for ModuleRef {
    type Target = Module;
    fn deref(&self) -> &Module {
        &self.module
    }
}

impl Clone for ModuleRef {
    fn clone(&self) -> Self {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = reg.modules.get_mut(&self.key) {
            entry.1 += 1;
        }
        ModuleRef {
            key: self.key.clone(),
            module: self.module.clone(),
        }
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        let last = match reg.modules.get_mut(&self.key) {
            Some(entry) => {
                entry.1 -= 1;
                entry.1 == 0
            }
            None => false,
        };
        if last {
            reg.modules.remove(&self.key);
            // Still under the registry lock: a concurrent `load` of the same
            // path waits until the module is finalized and closed.
            if self.module.we_initialized {
                if let Some(fin) = self.module.f().c_finalize {
                    // SAFETY: no session or reference remains (count 0), the
                    // argument must be NULL.
                    let _ = unsafe { fin(std::ptr::null_mut()) };
                }
            }
            // SAFETY: `lib` came from dlopen and nothing uses the function
            // list after this point.
            unsafe { libc::dlclose(self.module.lib) };
        }
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated thread-local string,
    // which we copy before any other dl* call.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown dynamic loader error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

fn load(path: &Path) -> Result<ModuleRef, Pkcs11Error> {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = reg.modules.get_mut(path) {
        entry.1 += 1;
        return Ok(ModuleRef {
            key: path.to_path_buf(),
            module: entry.0.clone(),
        });
    }
    let shown = path.display().to_string();
    let load_err = |msg: String| Pkcs11Error::Load {
        path: shown.clone(),
        msg,
    };
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| load_err("path contains a NUL byte".into()))?;
    // SAFETY: c_path is a valid C string; loading runs the library's
    // initializers, which is the point of configuring a PKCS#11 module.
    let lib = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        return Err(load_err(dl_error()));
    }
    let close = |lib| {
        // SAFETY: `lib` is a live dlopen handle not used afterwards.
        unsafe { libc::dlclose(lib) };
    };
    // SAFETY: lib is a live handle, the symbol name a valid C string.
    let sym = unsafe { libc::dlsym(lib, c"C_GetFunctionList".as_ptr()) };
    if sym.is_null() {
        close(lib);
        return Err(load_err(
            "no C_GetFunctionList symbol: not a PKCS#11 module".into(),
        ));
    }
    // SAFETY: PKCS#11 defines C_GetFunctionList with exactly this signature.
    let get_list = unsafe { std::mem::transmute::<*mut c_void, CGetFunctionList>(sym) };
    let mut list: *const CkFunctionList = std::ptr::null();
    // SAFETY: `list` is a valid out-pointer.
    let rv = unsafe { get_list(&mut list) };
    if rv != CKR_OK || list.is_null() {
        close(lib);
        return Err(load_err(format!("C_GetFunctionList failed: {}", Rv(rv))));
    }
    // SAFETY: non-null pointer to the module's function list, which starts
    // with a CK_VERSION in every PKCS#11 version.
    let version = unsafe { (*list).version };
    if version.major < 2 {
        close(lib);
        return Err(load_err(format!(
            "PKCS#11 version {}.{} is not supported (need 2.x or later)",
            version.major, version.minor
        )));
    }
    // SAFETY: version >= 2.0, so the list has at least every field declared
    // in CkFunctionList, in that order.
    let Some(init) = (unsafe { (*list).c_initialize }) else {
        close(lib);
        return Err(load_err(
            "C_Initialize missing from the function list".into(),
        ));
    };
    let mut args = CkCInitializeArgs {
        create_mutex: std::ptr::null_mut(),
        destroy_mutex: std::ptr::null_mut(),
        lock_mutex: std::ptr::null_mut(),
        unlock_mutex: std::ptr::null_mut(),
        flags: CKF_OS_LOCKING_OK,
        p_reserved: std::ptr::null_mut(),
    };
    // SAFETY: args is a valid CK_C_INITIALIZE_ARGS that outlives the call.
    let rv = unsafe { init((&mut args as *mut CkCInitializeArgs).cast()) };
    let we_initialized = match rv {
        CKR_OK => true,
        CKR_CRYPTOKI_ALREADY_INITIALIZED => false,
        other => {
            close(lib);
            return Err(load_err(format!("C_Initialize failed: {}", Rv(other))));
        }
    };
    let module = Arc::new(Module {
        path: shown.clone(),
        lib,
        functions: list,
        we_initialized,
    });
    reg.modules.insert(path.to_path_buf(), (module.clone(), 1));
    Ok(ModuleRef {
        key: path.to_path_buf(),
        module,
    })
}

macro_rules! func {
    ($m:expr, $field:ident, $name:literal) => {
        $m.f().$field.ok_or(Pkcs11Error::Call {
            func: $name,
            rv: Rv(0x054), // CKR_FUNCTION_NOT_SUPPORTED: null in the list
        })?
    };
}

// ---------------------------------------------------------------------------
// Tokens and sessions

fn padded_field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches([' ', '\0'])
        .to_string()
}

/// The slot of the configured token; the token's label for messages.
fn find_token(m: &ModuleRef, sel: &TokenSelector) -> Result<(CkSlotId, String), Pkcs11Error> {
    let get_slot_list = func!(m, c_get_slot_list, "C_GetSlotList");
    let get_token_info = func!(m, c_get_token_info, "C_GetTokenInfo");
    let mut slots: Vec<CkSlotId> = Vec::new();
    // The slot count can change between the two calls: retry a few times.
    for attempt in 0..4 {
        let mut count: CkUlong = 0;
        // SAFETY: NULL list asks for the count only; count is a valid out-pointer.
        check("C_GetSlotList", unsafe {
            get_slot_list(CK_TRUE, std::ptr::null_mut(), &mut count)
        })?;
        if count > 4096 {
            return Err(Pkcs11Error::Call {
                func: "C_GetSlotList",
                rv: Rv(0x006), // CKR_FUNCTION_FAILED: implausible slot count
            });
        }
        slots = vec![0; count as usize];
        // SAFETY: `slots` has room for `count` IDs.
        let rv = unsafe { get_slot_list(CK_TRUE, slots.as_mut_ptr(), &mut count) };
        if rv == CKR_BUFFER_TOO_SMALL && attempt < 3 {
            continue;
        }
        check("C_GetSlotList", rv)?;
        slots.truncate(count as usize);
        break;
    }
    let mut present = Vec::new();
    let mut found = Vec::new();
    for slot in slots {
        // SAFETY: CkTokenInfo is plain old data; all-zero is a valid value.
        let mut info: CkTokenInfo = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid out-pointer of the right layout.
        if unsafe { get_token_info(slot, &mut info) } != CKR_OK {
            continue; // token removed meanwhile, or broken slot: skip it
        }
        let label = padded_field(&info.label);
        let serial = padded_field(&info.serial_number);
        let hit = match sel {
            TokenSelector::Label(l) => *l == label,
            TokenSelector::Serial(s) => *s == serial,
            TokenSelector::Slot(n) => *n == slot,
        };
        present.push(format!("{label:?} (slot {slot}, serial {serial})"));
        if hit {
            found.push((slot, label));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Pkcs11Error::TokenNotFound {
            token: sel.to_string(),
            module: m.path.clone(),
            present: if present.is_empty() {
                "none".into()
            } else {
                present.join(", ")
            },
        }),
        _ => Err(Pkcs11Error::TokenAmbiguous {
            token: sel.to_string(),
        }),
    }
}

/// An open session. Not thread-safe: owned by one thread at a time (`&mut`
/// for every operation), closed on drop before its module reference goes.
struct Session {
    handle: CkSessionHandle,
    module: ModuleRef,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(close) = self.module.f().c_close_session {
            // SAFETY: the handle is ours and not used after this.
            let _ = unsafe { close(self.handle) };
        }
    }
}

impl Session {
    fn open(module: &ModuleRef, slot: CkSlotId, rw: bool) -> Result<Self, Pkcs11Error> {
        let open = func!(module, c_open_session, "C_OpenSession");
        let mut flags = CKF_SERIAL_SESSION;
        if rw {
            flags |= CKF_RW_SESSION;
        }
        let mut handle: CkSessionHandle = 0;
        // SAFETY: no callback, valid out-pointer.
        check("C_OpenSession", unsafe {
            open(slot, flags, std::ptr::null_mut(), None, &mut handle)
        })?;
        Ok(Session {
            handle,
            module: module.clone(),
        })
    }

    fn login(&mut self, pin: &Pin, token: &str) -> Result<(), Pkcs11Error> {
        let login = func!(self.module, c_login, "C_Login");
        // SAFETY: the PIN buffer is valid for its length during the call.
        let rv = unsafe {
            login(
                self.handle,
                CKU_USER,
                pin.0.as_ptr(),
                pin.0.len() as CkUlong,
            )
        };
        match rv {
            CKR_OK | CKR_USER_ALREADY_LOGGED_IN => Ok(()),
            CKR_PIN_INCORRECT | CKR_PIN_LOCKED => Err(Pkcs11Error::PinIncorrect {
                token: token.to_string(),
                rv: Rv(rv),
            }),
            other => check("C_Login", other),
        }
    }

    /// Objects of `class` with `label`.
    fn find(&mut self, class: CkUlong, label: &str) -> Result<Vec<CkObjectHandle>, Pkcs11Error> {
        let init = func!(self.module, c_find_objects_init, "C_FindObjectsInit");
        let next = func!(self.module, c_find_objects, "C_FindObjects");
        let fin = func!(self.module, c_find_objects_final, "C_FindObjectsFinal");
        let mut class_value = class;
        let mut label_bytes = label.as_bytes().to_vec();
        let mut template = [
            CkAttribute {
                type_: CKA_CLASS,
                p_value: (&mut class_value as *mut CkUlong).cast(),
                ul_value_len: std::mem::size_of::<CkUlong>() as CkUlong,
            },
            CkAttribute {
                type_: CKA_LABEL,
                p_value: label_bytes.as_mut_ptr().cast(),
                ul_value_len: label_bytes.len() as CkUlong,
            },
        ];
        // SAFETY: the template and the values it points to live until the
        // end of this function; the module copies what it needs at init.
        check("C_FindObjectsInit", unsafe {
            init(
                self.handle,
                template.as_mut_ptr(),
                template.len() as CkUlong,
            )
        })?;
        let mut out = Vec::new();
        let result = loop {
            let mut batch = [0 as CkObjectHandle; 16];
            let mut n: CkUlong = 0;
            // SAFETY: `batch` has room for 16 handles.
            let rv = unsafe { next(self.handle, batch.as_mut_ptr(), 16, &mut n) };
            if rv != CKR_OK {
                break check("C_FindObjects", rv);
            }
            let n = (n as usize).min(batch.len());
            out.extend_from_slice(&batch[..n]);
            if n == 0 || out.len() > 1024 {
                break Ok(());
            }
        };
        // SAFETY: ends the search started above, whatever happened.
        let rv = unsafe { fin(self.handle) };
        result?;
        check("C_FindObjectsFinal", rv)?;
        Ok(out)
    }

    /// Exactly one object of `class` with `label`.
    fn find_one(
        &mut self,
        class: CkUlong,
        label: &str,
        token: &str,
    ) -> Result<CkObjectHandle, Pkcs11Error> {
        let kind = if class == CKO_PRIVATE_KEY {
            "private key"
        } else {
            "public key"
        };
        let found = self.find(class, label)?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Pkcs11Error::KeyNotFound {
                token: token.to_string(),
                label: label.to_string(),
                kind,
            }),
            many => Err(Pkcs11Error::KeyAmbiguous {
                token: token.to_string(),
                label: label.to_string(),
                kind,
                count: many.len(),
            }),
        }
    }

    fn attribute(&mut self, obj: CkObjectHandle, attr: CkUlong) -> Result<Vec<u8>, Pkcs11Error> {
        let get = func!(self.module, c_get_attribute_value, "C_GetAttributeValue");
        let mut t = [CkAttribute {
            type_: attr,
            p_value: std::ptr::null_mut(),
            ul_value_len: 0,
        }];
        // SAFETY: NULL pValue asks for the length only.
        check("C_GetAttributeValue", unsafe {
            get(self.handle, obj, t.as_mut_ptr(), 1)
        })?;
        let len = t[0].ul_value_len;
        if len == CK_UNAVAILABLE_INFORMATION || len > 64 * 1024 {
            return Err(Pkcs11Error::Call {
                func: "C_GetAttributeValue",
                rv: Rv(0x012),
            });
        }
        let mut buf = vec![0u8; len as usize];
        t[0].p_value = buf.as_mut_ptr().cast();
        // SAFETY: `buf` has the room the module asked for.
        check("C_GetAttributeValue", unsafe {
            get(self.handle, obj, t.as_mut_ptr(), 1)
        })?;
        buf.truncate((t[0].ul_value_len as usize).min(buf.len()));
        Ok(buf)
    }

    /// Raw ECDSA (r‖s) over `digest` with `key`.
    fn sign_ecdsa(&mut self, key: CkObjectHandle, digest: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let init = func!(self.module, c_sign_init, "C_SignInit");
        let sign = func!(self.module, c_sign, "C_Sign");
        let mut mech = CkMechanism {
            mechanism: CKM_ECDSA,
            p_parameter: std::ptr::null_mut(),
            ul_parameter_len: 0,
        };
        // SAFETY: valid mechanism struct for the duration of the call.
        check("C_SignInit", unsafe { init(self.handle, &mut mech, key) })?;
        // Room for any curve up to P-521 (2 × 66 bytes).
        let mut sig = vec![0u8; 132];
        let mut len = sig.len() as CkUlong;
        // SAFETY: input and output buffers are valid for their lengths; a
        // failing C_Sign ends the operation, so the session stays usable.
        check("C_Sign", unsafe {
            sign(
                self.handle,
                digest.as_ptr(),
                digest.len() as CkUlong,
                sig.as_mut_ptr(),
                &mut len,
            )
        })?;
        sig.truncate((len as usize).min(sig.len()));
        Ok(sig)
    }
}

/// Builds the P-256 SPKI from `CKA_EC_PARAMS` and `CKA_EC_POINT`.
fn p256_spki(label: &str, params: &[u8], point: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
    let key_err = |msg: String| Pkcs11Error::Key {
        label: label.to_string(),
        msg,
    };
    if params != P256_EC_PARAMS {
        return Err(key_err(format!(
            "only ECDSA P-256 keys are supported (CKA_EC_PARAMS {})",
            hex::encode(params)
        )));
    }
    // The spec says DER OCTET STRING; some tokens return the bare point.
    let raw = if point.len() == 65 && point[0] == 0x04 {
        point.to_vec()
    } else {
        der::asn1::OctetString::from_der(point)
            .map_err(|e| key_err(format!("CKA_EC_POINT: {e}")))?
            .into_bytes()
    };
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&raw)
        .map_err(|e| key_err(format!("CKA_EC_POINT is not a P-256 point: {e}")))?;
    Ok(PublicKey::P256(vk).to_spki_der())
}

/// Converts the token's raw r‖s into the DER `ECDSA-Sig-Value` of X.509.
fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, String> {
    let sig = p256::ecdsa::Signature::from_slice(raw).map_err(|e| {
        format!(
            "token returned a malformed P-256 signature ({} bytes): {e}",
            raw.len()
        )
    })?;
    Ok(sig.to_der().as_bytes().to_vec())
}

// ---------------------------------------------------------------------------
// Public API

/// An open, logged-in token.
struct Token {
    slot: CkSlotId,
    name: String,
    /// Logged in; keeps the application's login alive.
    session: Session,
    module: ModuleRef,
}

fn open_token(config: &Pkcs11Config, rw: bool) -> Result<Token, Pkcs11Error> {
    let module = load(&config.module)?;
    let (slot, label) = find_token(&module, &config.token)?;
    let name = format!("{label:?} (slot {slot})");
    let mut session = Session::open(&module, slot, rw)?;
    session.login(&config.pin, &name)?;
    Ok(Token {
        slot,
        name,
        session,
        module,
    })
}

/// A signing session with the private key handle it found.
struct PooledSession {
    session: Session,
    key: CkObjectHandle,
}

struct Pool {
    idle: Vec<PooledSession>,
    open: usize,
}

/// An HSM-held ECDSA P-256 key as a [`TbsSigner`] (ecdsa-with-SHA256: the
/// SHA-256 digest is computed here, the token signs it with `CKM_ECDSA`).
pub struct Pkcs11Signer {
    label: String,
    token: String,
    slot: CkSlotId,
    spki_der: Vec<u8>,
    public_key: PublicKey,
    max_sessions: usize,
    pool: Mutex<Pool>,
    freed: Condvar,
    /// Logged-in session held for the signer's life (see module docs).
    /// Declared after `pool`: fields drop in order, pool sessions first.
    _login: Session,
    module: ModuleRef,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("label", &self.label)
            .field("token", &self.token)
            .finish()
    }
}

impl Pkcs11Signer {
    /// Opens the key labelled `label`: logs in, finds the private key and
    /// the public key of that label, and proves they are a pair by signing
    /// a test digest. Refuses anything else loudly.
    pub fn open(config: &Pkcs11Config, label: &str) -> Result<Self, Pkcs11Error> {
        let Token {
            slot,
            name,
            mut session,
            module,
        } = open_token(config, false)?;
        let private = session.find_one(CKO_PRIVATE_KEY, label, &name)?;
        let public = session.find_one(CKO_PUBLIC_KEY, label, &name)?;
        let key_type = session.attribute(private, CKA_KEY_TYPE)?;
        if key_type != CKK_EC.to_ne_bytes() {
            return Err(Pkcs11Error::Key {
                label: label.to_string(),
                msg: "not an EC key (only ECDSA P-256 is supported)".into(),
            });
        }
        let params = session.attribute(public, CKA_EC_PARAMS)?;
        let point = session.attribute(public, CKA_EC_POINT)?;
        let spki_der = p256_spki(label, &params, &point)?;
        let public_key = PublicKey::from_spki_der(&spki_der).map_err(|e| Pkcs11Error::Key {
            label: label.to_string(),
            msg: e.to_string(),
        })?;
        let signer = Pkcs11Signer {
            label: label.to_string(),
            token: name,
            slot,
            spki_der,
            public_key,
            max_sessions: config.max_sessions.max(1),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            _login: session,
            module,
        };
        // Self-test: the private key must match the public key object.
        signer
            .sign_der(b"sigstack fulcio pkcs11 self-test")
            .map_err(|e| Pkcs11Error::Key {
                label: label.to_string(),
                msg: format!("self-test signature failed: {e}"),
            })?;
        Ok(signer)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// DER SubjectPublicKeyInfo of the key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    fn take_session(&self) -> Result<PooledSession, Pkcs11Error> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(s) = pool.idle.pop() {
                return Ok(s);
            }
            if pool.open < self.max_sessions {
                pool.open += 1;
                drop(pool);
                let opened = Session::open(&self.module, self.slot, false).and_then(|mut s| {
                    let key = s.find_one(CKO_PRIVATE_KEY, &self.label, &self.token)?;
                    Ok(PooledSession { session: s, key })
                });
                if opened.is_err() {
                    self.give_back(None);
                }
                return opened;
            }
            pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns a session to the pool; `None` (after an error) closes it, so a
    /// broken session is never reused.
    fn give_back(&self, s: Option<PooledSession>) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        match s {
            Some(s) => pool.idle.push(s),
            None => pool.open -= 1,
        }
        drop(pool);
        self.freed.notify_one();
    }

    /// Signs `msg` with ECDSA-SHA256; returns an ASN.1 DER signature that
    /// has been checked against the key's public key.
    pub fn sign_der(&self, msg: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let digest = Sha256::digest(msg);
        let mut s = self.take_session()?;
        match s.session.sign_ecdsa(s.key, &digest) {
            Ok(raw) => {
                self.give_back(Some(s));
                let der = raw_to_der(&raw).map_err(|msg| Pkcs11Error::Key {
                    label: self.label.clone(),
                    msg,
                })?;
                // Never put a signature that does not verify into a
                // certificate (faulty HSM, wrong key object).
                self.public_key
                    .verify_prehash(HashAlgorithm::Sha256, &digest, &der)
                    .map_err(|e| Pkcs11Error::Key {
                        label: self.label.clone(),
                        msg: format!(
                            "signature does not verify with the public key of the same label: {e}"
                        ),
                    })?;
                Ok(der)
            }
            Err(e) => {
                drop(s);
                self.give_back(None);
                Err(e)
            }
        }
    }
}

/// Generates a non-extractable ECDSA P-256 key pair labelled `label` on the
/// configured token and returns its public key (DER SPKI). Refuses a label
/// that is already used by a key.
pub fn generate_key(config: &Pkcs11Config, label: &str) -> Result<Vec<u8>, Pkcs11Error> {
    if label.is_empty() {
        return Err(Pkcs11Error::Key {
            label: label.into(),
            msg: "the key label must not be empty".into(),
        });
    }
    let Token {
        name, mut session, ..
    } = open_token(config, true)?;
    if !session.find(CKO_PRIVATE_KEY, label)?.is_empty()
        || !session.find(CKO_PUBLIC_KEY, label)?.is_empty()
    {
        return Err(Pkcs11Error::KeyExists {
            token: name,
            label: label.into(),
        });
    }
    let gen = func!(session.module, c_generate_key_pair, "C_GenerateKeyPair");
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let mut label_bytes = label.as_bytes().to_vec();
    let mut params = P256_EC_PARAMS;
    let mut key_type = CKK_EC;
    let mut yes = CK_TRUE;
    let mut no = CK_FALSE;
    let attr = |type_: CkUlong, p: *mut c_void, len: usize| CkAttribute {
        type_,
        p_value: p,
        ul_value_len: len as CkUlong,
    };
    let b = std::mem::size_of::<CkBbool>();
    let yes_p: *mut c_void = (&mut yes as *mut CkBbool).cast();
    let no_p: *mut c_void = (&mut no as *mut CkBbool).cast();
    let label_p: *mut c_void = label_bytes.as_mut_ptr().cast();
    let id_p: *mut c_void = id.as_mut_ptr().cast();
    let mut public = [
        attr(
            CKA_KEY_TYPE,
            (&mut key_type as *mut CkUlong).cast(),
            std::mem::size_of::<CkUlong>(),
        ),
        attr(CKA_EC_PARAMS, params.as_mut_ptr().cast(), params.len()),
        attr(CKA_LABEL, label_p, label_bytes.len()),
        attr(CKA_ID, id_p, id.len()),
        attr(CKA_TOKEN, yes_p, b),
        attr(CKA_VERIFY, yes_p, b),
    ];
    let mut private = [
        attr(CKA_LABEL, label_p, label_bytes.len()),
        attr(CKA_ID, id_p, id.len()),
        attr(CKA_TOKEN, yes_p, b),
        attr(CKA_PRIVATE, yes_p, b),
        attr(CKA_SIGN, yes_p, b),
        attr(CKA_SENSITIVE, yes_p, b),
        attr(CKA_EXTRACTABLE, no_p, b),
    ];
    let mut mech = CkMechanism {
        mechanism: CKM_EC_KEY_PAIR_GEN,
        p_parameter: std::ptr::null_mut(),
        ul_parameter_len: 0,
    };
    let mut pub_handle: CkObjectHandle = 0;
    let mut priv_handle: CkObjectHandle = 0;
    // SAFETY: both templates and every value they point to (label_bytes,
    // id, params, key_type, yes, no) are locals alive across the call; the
    // handles are valid out-pointers.
    check("C_GenerateKeyPair", unsafe {
        gen(
            session.handle,
            &mut mech,
            public.as_mut_ptr(),
            public.len() as CkUlong,
            private.as_mut_ptr(),
            private.len() as CkUlong,
            &mut pub_handle,
            &mut priv_handle,
        )
    })?;
    let params = session.attribute(pub_handle, CKA_EC_PARAMS)?;
    let point = session.attribute(pub_handle, CKA_EC_POINT)?;
    p256_spki(label, &params, &point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_list_layout_matches_pkcs11f_h() {
        let ptr = std::mem::size_of::<usize>();
        // CK_VERSION padded to pointer alignment, then one slot per function.
        let slot = |i: usize| ptr + i * ptr;
        assert_eq!(std::mem::offset_of!(CkFunctionList, c_initialize), slot(0));
        assert_eq!(
            std::mem::offset_of!(CkFunctionList, c_get_slot_list),
            slot(4)
        );
        assert_eq!(
            std::mem::offset_of!(CkFunctionList, c_get_token_info),
            slot(6)
        );
        assert_eq!(
            std::mem::offset_of!(CkFunctionList, c_open_session),
            slot(12)
        );
        assert_eq!(std::mem::offset_of!(CkFunctionList, c_login), slot(18));
        assert_eq!(
            std::mem::offset_of!(CkFunctionList, c_get_attribute_value),
            slot(24)
        );
        assert_eq!(
            std::mem::offset_of!(CkFunctionList, c_find_objects_init),
            slot(26)
        );
        assert_eq!(std::mem::offset_of!(CkFunctionList, c_sign_init), slot(42));
        assert_eq!(
            std::mem::offset_of!(CkFunctionList, c_generate_key_pair),
            slot(59)
        );
        // CK_TOKEN_INFO: 96 bytes of text, 11 CK_ULONGs, 2 versions, 16 bytes.
        assert_eq!(
            std::mem::offset_of!(CkTokenInfo, hardware_version),
            96 + 11 * std::mem::size_of::<CkUlong>()
        );
    }

    #[test]
    fn config_parses_upstream_format_case_insensitively() {
        let c = Pkcs11Config::parse(
            br#"{"Path":"/usr/lib/softhsm/libsofthsm2.so","TokenLabel":"fulcio","Pin":"2324"}"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(c.token, TokenSelector::Label("fulcio".into()));
        assert_eq!(c.pin.0, b"2324");
        let c = Pkcs11Config::parse(
            br#"{"path":"/m.so","slotNumber":3,"pin":"x","MaxSessions":2,"UseGCMIVFromHSM":true}"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.token, TokenSelector::Slot(3));
        assert_eq!(c.max_sessions, 2);
    }

    #[test]
    fn config_errors_are_clear_and_never_show_the_pin() {
        let bad: &[(&[u8], &str)] = &[
            (br#"{"TokenLabel":"t","Pin":"secret-pin"}"#, "Path"),
            (
                br#"{"Path":"libsofthsm2.so","TokenLabel":"t","Pin":"secret-pin"}"#,
                "absolute",
            ),
            (br#"{"Path":"/m.so","Pin":"secret-pin"}"#, "exactly one"),
            (
                br#"{"Path":"/m.so","TokenLabel":"t","SlotNumber":1,"Pin":"secret-pin"}"#,
                "exactly one",
            ),
            (br#"{"Path":"/m.so","TokenLabel":"t"}"#, "Pin"),
            (
                br#"{"Path":"/m.so","TokenLabel":"t","Pin":"secret-pin""#,
                "JSON",
            ),
        ];
        for (json, want) in bad {
            let e = Pkcs11Config::parse(json, "cfg.json")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("secret-pin"), "{e}");
        }
        let c = Pkcs11Config::new("/m.so", "t", "secret-pin");
        assert!(!format!("{c:?}").contains("secret-pin"));
    }

    #[test]
    fn missing_module_is_a_load_error() {
        let c = Pkcs11Config::new("/nonexistent/libpkcs11.so", "t", "1234");
        let e = Pkcs11Signer::open(&c, "k").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/libpkcs11.so"), "{e}");
    }

    #[test]
    fn raw_signature_converts_to_der() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
        let sig: p256::ecdsa::Signature = sk.sign(b"m");
        let der = raw_to_der(&sig.to_bytes()).unwrap();
        assert_eq!(der, sig.to_der().as_bytes());
        assert!(raw_to_der(&[0u8; 63]).is_err());
        // Point encodings: DER OCTET STRING and bare.
        let point = sk.verifying_key().to_encoded_point(false);
        let bare = point.as_bytes();
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend_from_slice(bare);
        let a = p256_spki("k", &P256_EC_PARAMS, bare).unwrap();
        let b = p256_spki("k", &P256_EC_PARAMS, &wrapped).unwrap();
        assert_eq!(a, b);
        assert!(p256_spki("k", &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], bare).is_err());
    }
}

#[cfg(test)]
mod uri_tests {
    use super::*;

    #[test]
    fn pkcs11_uri() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my%20token;object=tuf-root;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
        )
        .unwrap();
        assert_eq!(u.token, "my token");
        assert_eq!(u.object, "tuf-root");
        assert_eq!(u.pin.as_deref(), Some("1234"));
        let s = u.to_string_without_pin();
        assert!(!s.contains("1234"), "{s}");
        assert_eq!(Pkcs11Uri::parse(&s).unwrap().token, "my token");
        assert!(!format!("{u:?}").contains("1234"));
        for bad in [
            "pkcs11:object=x?module-path=/m",
            "pkcs11:token=t?module-path=/m",
            "pkcs11:token=t;object=o",
            "pkcs11:token=%zz;object=o?module-path=/m",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad}");
        }
    }
}

/// A throwaway SoftHSM2 token, for tests and local development: the
/// workspace's PKCS#11 tests (Fulcio's CA, tuf-root's role keys, cosign's
/// `pkcs11:` keys) all run against one made here.
pub mod softhsm {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Where Debian's `softhsm2` package puts the module.
    pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

    /// Why SoftHSM2 cannot be used here, or `None` when it can.
    pub fn unavailable() -> Option<String> {
        if Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_err()
            || !Path::new(MODULE).exists()
        {
            return Some(format!(
                "SoftHSM2 is not installed (need softhsm2-util and {MODULE}; \
                 `apt-get install softhsm2` or scripts/deps.sh)"
            ));
        }
        None
    }

    /// Creates `<dir>/softhsm2.conf` with its token store in `<dir>/tokens`,
    /// and initializes a token `label` with `pin` (SO PIN 1234). Returns the
    /// config path: the value of `SOFTHSM2_CONF` for whoever loads the module.
    pub fn init_token(dir: &Path, label: &str, pin: &str) -> Result<PathBuf, String> {
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).map_err(|e| format!("{}: {e}", tokens.display()))?;
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .map_err(|e| format!("{}: {e}", conf.display()))?;
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", pin, "--so-pin", "1234"])
            .output()
            .map_err(|e| format!("softhsm2-util: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "softhsm2-util --init-token: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(conf)
    }
}
