//! What one hop does with an onion layer (storage-node §7.1–§7.4), as a pure function
//! of bytes: [`parse_entry`] / [`parse_relayed`] read a layer as it arrives, [`peel`]
//! decrypts it with the hop's X25519 key and says what it asks for ([`Step`]), and
//! [`ReplyKey`] seals the destination's answer. Every input may be hostile; nothing
//! here panics, allocates beyond the input's size, or does I/O. The service node's
//! relay (`session_node::onion`) does the I/O around it; the fuzz target `onion_hop`
//! drives it with arbitrary bytes.

use session_crypto::X25519Keypair;
use session_crypto::onion::{HopKey, node_decrypt};

use super::{
    Control, EncType, EntryMetadata, FinalHopControl, MAX_HOPS, ProxyControl, RelayRequest,
    encode_response_text, encode_snode_response, is_allowed_proxy_target, parse_frame,
};

/// One layer addressed to a hop, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `nonce ‖ ciphertext ‖ tag`.
    pub ciphertext: Vec<u8>,
    /// The client's ephemeral X25519 key for this layer.
    pub ephemeral_key: [u8; 32],
    /// The layer's AEAD.
    pub enc_type: EncType,
    /// The hop counter as this hop counts it.
    pub hop_no: i64,
}

/// Why a hop refuses a layer: a status and the exact plain-text message, or the same
/// sealed for the client when the layer decrypted.
#[derive(Debug)]
pub enum Refusal {
    /// Answered in plain text (the hop could not decrypt, or is not the destination).
    Plain {
        /// HTTP status.
        status: u16,
        /// The body.
        message: String,
    },
    /// Answered encrypted, like a destination's reply (`{"status", "body"}`).
    Sealed {
        /// The layer's reply key.
        reply: ReplyKey,
        /// The status inside.
        status: u16,
        /// The body inside.
        message: &'static str,
    },
}

fn plain(status: u16, message: impl Into<String>) -> Refusal {
    Refusal::Plain {
        status,
        message: message.into(),
    }
}

/// Parses the body of `POST /onion_req/v2`: `u32le(N) ‖ ciphertext ‖ {"ephemeral_key",
/// "enc_type"?, "hop_no"?}`. Errors are plain 400 "Invalid onion request: …".
pub fn parse_entry(body: &[u8]) -> Result<Layer, Refusal> {
    let bad = |e: &dyn std::fmt::Display| plain(400, format!("Invalid onion request: {e}"));
    let frame = parse_frame(body).map_err(|e| bad(&e))?;
    let meta: EntryMetadata = frame.control_as().map_err(|e| bad(&e))?;
    Ok(Layer {
        ciphertext: frame.payload.to_vec(),
        ephemeral_key: meta.ephemeral_key,
        enc_type: meta.enc_type.unwrap_or_default(),
        hop_no: meta.hop_no.unwrap_or(0).max(0),
    })
}

/// Parses a layer relayed by the previous hop (the `sn.onion_request` bt dict).
pub fn parse_relayed(body: &[u8]) -> Result<Layer, Refusal> {
    let r =
        RelayRequest::parse(body).map_err(|e| plain(400, format!("Invalid onion request: {e}")))?;
    Ok(Layer {
        hop_no: r.effective_hop_no(),
        ciphertext: r.data,
        ephemeral_key: r.ephemeral_key,
        enc_type: r.enc_type,
    })
}

/// The key that seals the destination's answer, and how to encode it.
#[derive(Debug, Clone)]
pub struct ReplyKey {
    key: HopKey,
    base64: bool,
}

/// A sealed reply: the bytes to send with HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Base64 text (the default) or raw ciphertext.
    pub body: Vec<u8>,
    /// Whether `body` is base64 text.
    pub base64: bool,
}

impl ReplyKey {
    /// Encrypts `plaintext` for the client with a fresh nonce; base64 unless the
    /// request asked for raw bytes. Fails only if the OS random generator does.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Sealed, session_crypto::CryptoError> {
        let ct = self.key.encrypt(plaintext)?;
        Ok(if self.base64 {
            Sealed {
                body: encode_response_text(&ct).into_bytes(),
                base64: true,
            }
        } else {
            Sealed {
                body: ct,
                base64: false,
            }
        })
    }

    /// Seals `{"status": status, "body": message}`.
    pub fn seal_status(
        &self,
        status: u16,
        message: &str,
    ) -> Result<Sealed, session_crypto::CryptoError> {
        self.seal(&encode_snode_response(status, message))
    }
}

/// What a decrypted layer asks of the hop.
#[derive(Debug)]
pub enum Step {
    /// The hop is the destination: execute the storage RPC `request`.
    Final {
        /// Seals the answer.
        reply: ReplyKey,
        /// The storage RPC JSON `{"method", "params"}`.
        request: Vec<u8>,
        /// The control (`json` flag).
        control: FinalHopControl,
    },
    /// POST the whole decrypted layer to a server.
    Proxy {
        /// The decrypted layer, sent as is.
        plaintext: Vec<u8>,
        /// Where to.
        control: ProxyControl,
    },
    /// Hand the inner layer to the next node.
    Relay {
        /// The next node's Ed25519 key.
        next: [u8; 32],
        /// What to send it (hop counter already advanced).
        forward: RelayRequest,
    },
}

/// Decrypts one layer with the hop's key and decides what to do with it:
/// * a layer that does not decrypt (wrong key, altered byte, too short, legacy
///   `aes-cbc`): plain 400 "Invalid ciphertext";
/// * a plaintext that is not `u32le(N) ‖ blob ‖ JSON control` with a valid control:
///   sealed 400 "Invalid json";
/// * a proxy target outside `/loki/…/lsrpc`, `/oxen/…/lsrpc`: sealed 400 "Invalid url";
/// * a relay past [`MAX_HOPS`]: plain 400 "onion request max path length exceeded".
pub fn peel(node: &X25519Keypair, layer: &Layer) -> Result<Step, Refusal> {
    let Some(enc) = layer.enc_type.to_crypto() else {
        return Err(plain(400, "Invalid ciphertext"));
    };
    let opened = node_decrypt(enc, node, &layer.ephemeral_key, &layer.ciphertext)
        .map_err(|_| plain(400, "Invalid ciphertext"))?;
    let sealed = |base64, message| Refusal::Sealed {
        reply: ReplyKey {
            key: opened.key.clone(),
            base64,
        },
        status: 400,
        message,
    };
    // The payload of a parsed frame sits right after the 4-byte length.
    let (control, payload_len) = match parse_frame(&opened.plaintext) {
        Ok(frame) => match frame.classify() {
            Ok(control) => (control, frame.payload.len()),
            Err(_) => return Err(sealed(true, "Invalid json")),
        },
        Err(_) => return Err(sealed(true, "Invalid json")),
    };
    match control {
        Control::FinalDestination(c) => Ok(Step::Final {
            reply: ReplyKey {
                key: opened.key.clone(),
                base64: c.base64,
            },
            request: opened.plaintext[4..4 + payload_len].to_vec(),
            control: c,
        }),
        Control::Proxy(c) => {
            if !is_allowed_proxy_target(&c.target) {
                return Err(sealed(true, "Invalid url"));
            }
            Ok(Step::Proxy {
                plaintext: opened.plaintext,
                control: c,
            })
        }
        Control::Relay(c) => {
            let hop_no = layer.hop_no.saturating_add(1);
            if hop_no > MAX_HOPS {
                return Err(plain(400, "onion request max path length exceeded"));
            }
            Ok(Step::Relay {
                next: c.destination,
                forward: RelayRequest {
                    data: opened.plaintext[4..4 + payload_len].to_vec(),
                    enc_type: c.enc_type,
                    ephemeral_key: c.ephemeral_key,
                    hop_no,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::onion::{RelayControl, decode_response_text, encode_frame, parse_snode_response};
    use session_crypto::onion::{EncType as CryptoEnc, client_encrypt};

    fn keypair() -> X25519Keypair {
        X25519Keypair::generate().unwrap()
    }

    fn layer_for(node: &X25519Keypair, enc: CryptoEnc, plaintext: &[u8], hop_no: i64) -> Layer {
        let l = client_encrypt(enc, node.public(), plaintext).unwrap();
        Layer {
            ciphertext: l.ciphertext,
            ephemeral_key: l.ephemeral_public,
            enc_type: enc.into(),
            hop_no,
        }
    }

    fn plain_message(r: Result<Step, Refusal>) -> (u16, String) {
        match r {
            Err(Refusal::Plain { status, message }) => (status, message),
            other => panic!("not a plain refusal: {other:?}"),
        }
    }

    #[test]
    fn relay_layer_names_the_next_hop_and_counts() {
        let node = keypair();
        let control = RelayControl {
            destination: [7; 32],
            ephemeral_key: [9; 32],
            enc_type: EncType::XChaCha20,
        };
        let inner = encode_frame(b"next layer", &control).unwrap();
        let layer = layer_for(&node, CryptoEnc::AesGcm, &inner, 3);
        let Ok(Step::Relay { next, forward }) = peel(&node, &layer) else {
            panic!("not a relay");
        };
        assert_eq!(next, [7; 32]);
        assert_eq!(forward.data, b"next layer");
        assert_eq!(forward.hop_no, 4);
        assert_eq!(forward.enc_type, EncType::XChaCha20);
        assert_eq!(forward.ephemeral_key, [9; 32]);
    }

    #[test]
    fn hop_limit() {
        let node = keypair();
        let control = RelayControl {
            destination: [7; 32],
            ephemeral_key: [9; 32],
            enc_type: EncType::AesGcm,
        };
        let inner = encode_frame(b"x", &control).unwrap();
        assert!(peel(&node, &layer_for(&node, CryptoEnc::AesGcm, &inner, 14)).is_ok());
        let r = peel(&node, &layer_for(&node, CryptoEnc::AesGcm, &inner, 15));
        assert_eq!(
            plain_message(r),
            (400, "onion request max path length exceeded".into())
        );
    }

    #[test]
    fn wrong_key_and_flipped_bits_are_invalid_ciphertext() {
        let node = keypair();
        let inner = encode_frame(b"{}", &FinalHopControl::default()).unwrap();
        for enc in [CryptoEnc::AesGcm, CryptoEnc::XChaCha20] {
            let good = layer_for(&node, enc, &inner, 0);
            let mut damaged = vec![];
            for i in [0, good.ciphertext.len() / 2, good.ciphertext.len() - 1] {
                let mut l = good.clone();
                l.ciphertext[i] ^= 1;
                damaged.push(l);
            }
            let mut other_key = good.clone();
            other_key.ephemeral_key = *keypair().public();
            let mut truncated = good.clone();
            truncated.ciphertext.truncate(10);
            let mut wrong_enc = good.clone();
            wrong_enc.enc_type = match enc {
                CryptoEnc::AesGcm => EncType::XChaCha20,
                CryptoEnc::XChaCha20 => EncType::AesGcm,
            };
            let mut cbc = good.clone();
            cbc.enc_type = EncType::AesCbc;
            damaged.extend([other_key, truncated, wrong_enc, cbc]);
            for l in damaged {
                assert_eq!(
                    plain_message(peel(&node, &l)),
                    (400, "Invalid ciphertext".into())
                );
            }
            assert!(matches!(peel(&node, &good), Ok(Step::Final { .. })));
        }
    }

    #[test]
    fn undecodable_plaintext_is_a_sealed_invalid_json() {
        let node = keypair();
        for plaintext in [
            b"no frame".to_vec(),
            encode_frame(b"x", &serde_json::json!({"neither": 1})).unwrap(),
            encode_frame(b"x", &serde_json::json!({"destination": "zz"})).unwrap(),
        ] {
            let layer = layer_for(&node, CryptoEnc::XChaCha20, &plaintext, 0);
            let Err(Refusal::Sealed {
                status: 400,
                message: "Invalid json",
                ..
            }) = peel(&node, &layer)
            else {
                panic!("accepted {plaintext:?}");
            };
        }
    }

    #[test]
    fn proxy_targets_are_filtered() {
        let node = keypair();
        for (target, ok) in [
            ("/oxen/v4/lsrpc", true),
            ("/loki/v3/lsrpc", true),
            ("/admin", false),
            ("/oxen/v4/lsrpc?x=1", false),
        ] {
            let control = serde_json::json!({"host": "example.org", "target": target});
            let inner = encode_frame(b"blob", &control).unwrap();
            let layer = layer_for(&node, CryptoEnc::AesGcm, &inner, 0);
            match peel(&node, &layer) {
                Ok(Step::Proxy { plaintext, .. }) => {
                    assert!(ok, "{target} allowed");
                    assert_eq!(plaintext, inner);
                }
                Err(Refusal::Sealed {
                    message: "Invalid url",
                    ..
                }) => assert!(!ok, "{target} refused"),
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn entry_parsing() {
        let meta = serde_json::json!({"ephemeral_key": hex::encode([1u8; 32])});
        let body = encode_frame(b"ct", &meta).unwrap();
        let l = parse_entry(&body).unwrap();
        assert_eq!(l.enc_type, EncType::AesGcm);
        assert_eq!(l.hop_no, 0);
        for bad in [
            b"".to_vec(),
            vec![9, 0, 0, 0, 1],
            encode_frame(b"ct", &serde_json::json!({})).unwrap(),
            encode_frame(b"ct", &serde_json::json!({"ephemeral_key": "abc"})).unwrap(),
            encode_frame(
                b"ct",
                &serde_json::json!({"ephemeral_key": hex::encode([1u8; 32]), "enc_type": "rot13"}),
            )
            .unwrap(),
        ] {
            let Err(Refusal::Plain { status, message }) = parse_entry(&bad) else {
                panic!("accepted {bad:?}");
            };
            assert_eq!(status, 400, "{bad:?}");
            assert!(message.starts_with("Invalid onion request"), "{message}");
        }
    }

    #[test]
    fn sealed_replies_decrypt_for_the_client() {
        let node = keypair();
        let inner = encode_frame(b"{}", &FinalHopControl::default()).unwrap();
        let l = client_encrypt(CryptoEnc::XChaCha20, node.public(), &inner).unwrap();
        let layer = Layer {
            ciphertext: l.ciphertext.clone(),
            ephemeral_key: l.ephemeral_public,
            enc_type: EncType::XChaCha20,
            hop_no: 0,
        };
        let Ok(Step::Final { reply, .. }) = peel(&node, &layer) else {
            panic!("not final");
        };
        let out = reply.seal_status(401, "nope").unwrap();
        assert!(out.base64);
        let ct = decode_response_text(&out.body).unwrap();
        let plain = l.key.decrypt_reply(&ct).unwrap();
        let r = parse_snode_response(&plain).unwrap();
        assert_eq!((r.status, r.body.as_str()), (401, "nope"));
    }
}
