//! The message format between page and worker, both ways: a JSON text and,
//! optionally, bytes transferred (not copied) with it.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// The message object and its transfer list.
pub fn pack(json: String, bytes: Option<Vec<u8>>) -> (Object, Array) {
    let message = Object::new();
    let transfer = Array::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(&message, &"json".into(), &json.into());
    if let Some(bytes) = bytes {
        let array = Uint8Array::from(bytes.as_slice());
        transfer.push(&array.buffer());
        let _ = Reflect::set(&message, &"bytes".into(), &array);
    }
    (message, transfer)
}

/// The JSON text and the bytes of a received message.
pub fn unpack(data: &JsValue) -> (String, Option<Vec<u8>>) {
    let json =
        Reflect::get(data, &"json".into()).ok().and_then(|j| j.as_string()).unwrap_or_default();
    let bytes = Reflect::get(data, &"bytes".into())
        .ok()
        .filter(|b| b.is_instance_of::<Uint8Array>())
        .map(|b| b.unchecked_into::<Uint8Array>().to_vec());
    (json, bytes)
}
