//! The Grad-CAM view: the photo with the heat map of a chosen class
//! blended over it, an opacity slider, the plain photo to compare, and a
//! colour legend with what the map does and does not show.

use std::sync::Arc;

use image::RgbImage;
use leptos::html;
use leptos::prelude::*;
use model::{colormap, gradcam};
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use super::slider::Slider;
use super::state::{Shown, State};

/// The photo with the heat map of `class` over it at `opacity` (0: the plain photo).
pub fn overlay(shown: &Shown, class: usize, opacity: f32) -> RgbImage {
    let (w, h) = (shown.reply.width, shown.reply.height);
    let analysis = &shown.reply.analysis;
    match analysis.cams.get(class) {
        Some(map) if opacity > 0.0 => {
            let heat = gradcam::photo_heat(map, analysis.cam_size, w, h, analysis.cam_region);
            colormap::blend(&shown.photo, &colormap::heat_layer(&heat, w, h), opacity)
        }
        _ => shown.photo.clone(),
    }
}

pub fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or_else(|| "this browser cannot draw on a canvas".into())
}

/// `image` as canvas pixels.
pub fn image_data(image: &RgbImage) -> Result<ImageData, String> {
    let rgba = image::DynamicImage::ImageRgb8(image.clone()).into_rgba8();
    ImageData::new_with_u8_clamped_array_and_sh(
        Clamped(rgba.as_raw()),
        image.width(),
        image.height(),
    )
    .map_err(|e| format!("{e:?}"))
}

fn draw(canvas: &HtmlCanvasElement, image: &RgbImage) -> Result<(), String> {
    canvas.set_width(image.width());
    canvas.set_height(image.height());
    context_2d(canvas)?.put_image_data(&image_data(image)?, 0.0, 0.0).map_err(|e| format!("{e:?}"))
}

/// The viridis scale from "less" (left) to "more" (right), `width` x `height`.
pub fn legend_image(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| {
        image::Rgb(colormap::viridis(x as f32 / (width.max(2) - 1) as f32))
    })
}

#[component]
pub fn Legend() -> impl IntoView {
    let state = expect_context::<State>();
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        if let Some(canvas) = canvas.get()
            && let Err(e) = draw(&canvas, &legend_image(256, 12))
        {
            web_sys::console::error_1(&format!("dermlens: {e}").into());
        }
    });
    view! {
        <div class="legend" data-test="legend">
            <span>{move || state.t("heatmap.legend_less")}</span>
            <canvas node_ref=canvas class="legend-scale" aria-hidden="true"></canvas>
            <span>{move || state.t("heatmap.legend_more")}</span>
        </div>
    }
}

#[component]
pub fn HeatMap(
    shown: Arc<Shown>,
    classes: Vec<(usize, String)>,
    class: RwSignal<usize>,
) -> impl IntoView {
    let state = expect_context::<State>();
    let canvas = NodeRef::<html::Canvas>::new();
    let opacity = RwSignal::new(0.6f32);
    let heat_on = RwSignal::new(true);
    let drawn = shown.clone();
    Effect::new(move |_| {
        let (class, opacity, on) = (class.get(), opacity.get(), heat_on.get());
        if let Some(canvas) = canvas.get() {
            let image = overlay(&drawn, class, if on { opacity } else { 0.0 });
            if let Err(e) = draw(&canvas, &image) {
                web_sys::console::error_1(&format!("dermlens: {e}").into());
            }
        }
    });
    let names = classes.clone();
    let label = move || {
        let name = names
            .iter()
            .find(|(c, _)| *c == class.get())
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        if heat_on.get() {
            state.tf("heatmap.canvas_label", &[("class", &name)])
        } else {
            state.t("heatmap.canvas_plain")
        }
    };
    let [rows, columns] = shown.reply.analysis.cam_size;
    let cells = move || {
        state.tf(
            "heatmap.explainer",
            &[("rows", &rows.to_string()), ("columns", &columns.to_string())],
        )
    };
    view! {
        <figure class="heatmap">
            <canvas node_ref=canvas role="img" aria-label=label data-test="heatmap"></canvas>
            <figcaption>
                <span>{move || state.t("heatmap.caption")}</span>
                <Legend/>
                <span class="explainer" data-test="heatmap-explainer">{cells}</span>
            </figcaption>
            <div class="controls no-print">
                <label class="explain">
                    <span>{move || state.t("heatmap.explain")}</span>
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
                <Slider label="heatmap.opacity" min=0.0 max=1.0 step=0.05 value=opacity test="heat-opacity"/>
                <label>
                    <input type="checkbox" data-test="heat-toggle" prop:checked=move || heat_on.get() on:change=move |ev| heat_on.set(event_target_checked(&ev))/>
                    <span>{move || state.t("heatmap.show")}</span>
                </label>
            </div>
        </figure>
    }
}
