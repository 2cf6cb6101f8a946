//! The Grad-CAM view: the photo with the heat map of a chosen class
//! blended over it, an opacity slider, and the plain photo to compare.

use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;
use model::{colormap, gradcam};
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, ImageData};

use super::Shown;

fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    shown: &Shown,
    class: usize,
    opacity: f32,
) -> Result<(), String> {
    let (w, h) = (shown.reply.width, shown.reply.height);
    canvas.set_width(w);
    canvas.set_height(h);
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .ok_or("this browser cannot draw on a canvas")?
        .unchecked_into();
    let analysis = &shown.reply.analysis;
    let pixels = match analysis.cams.get(class) {
        Some(map) if opacity > 0.0 => {
            let heat = gradcam::photo_heat(map, analysis.cam_size, w, h, analysis.cam_region);
            colormap::blend(&shown.photo, &colormap::heat_layer(&heat, w, h), opacity)
        }
        _ => shown.photo.clone(),
    };
    let rgba = image::DynamicImage::ImageRgb8(pixels).into_rgba8().into_raw();
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), w, h)
        .map_err(|e| format!("{e:?}"))?;
    context.put_image_data(&data, 0.0, 0.0).map_err(|e| format!("{e:?}"))
}

#[component]
pub fn HeatMap(shown: Arc<Shown>, classes: Vec<(usize, String)>) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let class = RwSignal::new(shown.reply.analysis.prediction.top);
    let opacity = RwSignal::new(0.6f32);
    let heat_on = RwSignal::new(true);
    Effect::new(move |_| {
        let (class, opacity, on) = (class.get(), opacity.get(), heat_on.get());
        if let Some(canvas) = canvas.get() {
            if let Err(e) = draw(&canvas, &shown, class, if on { opacity } else { 0.0 }) {
                web_sys::console::error_1(&format!("dermlens: {e}").into());
            }
        }
    });
    let names = classes.clone();
    let label = move || {
        let name = names
            .iter()
            .find(|(c, _)| *c == class.get())
            .map(|(_, n)| n.to_lowercase())
            .unwrap_or_default();
        if heat_on.get() {
            format!(
                "Your photo with the areas that weighed most for {name} highlighted (yellow strongest)."
            )
        } else {
            "Your photo.".into()
        }
    };
    view! {
        <figure class="heatmap">
            <canvas node_ref=canvas role="img" aria-label=label data-test="heatmap"></canvas>
            <figcaption>
                "Where the model looked: brighter (yellow) areas weighed most for the chosen class."
            </figcaption>
            <div class="controls">
                <label>
                    "Explain "
                    <select
                        data-test="heat-class"
                        on:change=move |ev| {
                            if let Ok(c) = event_target_value(&ev).parse::<usize>() {
                                class.set(c);
                            }
                        }
                    >
                        {classes
                            .into_iter()
                            .map(|(c, name)| view! { <option value=c.to_string() selected=move || class.get() == c>{name}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Opacity "
                    <input
                        type="range"
                        min="0"
                        max="1"
                        step="0.05"
                        data-test="heat-opacity"
                        prop:value=move || opacity.get().to_string()
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                                opacity.set(v);
                            }
                        }
                    />
                </label>
                <label>
                    <input type="checkbox" data-test="heat-toggle" prop:checked=move || heat_on.get() on:change=move |ev| heat_on.set(event_target_checked(&ev))/>
                    " Show heat map"
                </label>
            </div>
        </figure>
    }
}
