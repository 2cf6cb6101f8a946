//! Cropping to the spot. When the lesion fills too little of the frame the
//! page opens this at once; any result can be cropped from its buttons. The
//! person taps the spot (or moves the square with the arrow keys), sets the
//! square's size, and that part of the full-resolution photo is analysed.

use std::sync::Arc;

use image::RgbImage;
use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use model::crop::Crop;
use web_sys::HtmlCanvasElement;

use super::heatmap::{context_2d, image_data};
use super::slider::Slider;
use super::state::{Shown, State};

/// The square's side at first, as a share of the photo's shorter side.
const START_SIDE: f32 = 0.5;
/// How far an arrow key moves the square, as a share of the photo.
const KEY_STEP: f32 = 0.04;
/// Outside the square the photo is dimmed to this share of its brightness.
const DIM: f32 = 0.4;

/// `photo` with everything outside `crop` dimmed and the square outlined.
pub fn framed(photo: &RgbImage, crop: Crop) -> RgbImage {
    let [x0, y0, w, h] = crop.pixels(photo.width(), photo.height());
    let (x1, y1) = (x0 + w, y0 + h);
    // The outline is 2 px at the display size, drawn just inside the square.
    let edge = |x: u32, y: u32| x < x0 + 2 || y < y0 + 2 || x + 2 >= x1 || y + 2 >= y1;
    RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let p = photo.get_pixel(x, y);
        let inside = x >= x0 && x < x1 && y >= y0 && y < y1;
        match (inside, inside && edge(x, y)) {
            (_, true) => image::Rgb([255, 255, 255]),
            (true, false) => *p,
            (false, _) => image::Rgb(p.0.map(|v| (f32::from(v) * DIM).round() as u8)),
        }
    })
}

fn draw(canvas: &HtmlCanvasElement, image: &RgbImage) -> Result<(), String> {
    canvas.set_width(image.width());
    canvas.set_height(image.height());
    context_2d(canvas)?.put_image_data(&image_data(image)?, 0.0, 0.0).map_err(|e| format!("{e:?}"))
}

/// Where on the photo a click landed, as fractions of its width and height.
fn clicked_at(ev: &ev::MouseEvent) -> Option<(f32, f32)> {
    let canvas: HtmlCanvasElement = event_target(ev);
    let (w, h) = (canvas.client_width(), canvas.client_height());
    if w <= 0 || h <= 0 {
        return None;
    }
    let x = f64::from(ev.offset_x()) / f64::from(w);
    let y = f64::from(ev.offset_y()) / f64::from(h);
    Some((x.clamp(0.0, 1.0) as f32, y.clamp(0.0, 1.0) as f32))
}

/// The crop panel for the result `shown`; `open` shows or hides it.
#[component]
pub fn CropTool(shown: Arc<Shown>, open: RwSignal<bool>) -> impl IntoView {
    let state = expect_context::<State>();
    let canvas = NodeRef::<html::Canvas>::new();
    let centre = RwSignal::new((0.5f32, 0.5f32));
    let side = RwSignal::new(START_SIDE);
    let (width, height) = shown.photo.dimensions();
    let crop = Memo::new(move |_| {
        let (x, y) = centre.get();
        Crop::square(x, y, side.get(), width, height)
    });
    let drawn = shown.clone();
    Effect::new(move |_| {
        if let Some(canvas) = canvas.get()
            && let Err(e) = draw(&canvas, &framed(&drawn.photo, crop.get()))
        {
            web_sys::console::error_1(&format!("dermlens: {e}").into());
        }
    });
    let on_key = move |ev: ev::KeyboardEvent| {
        let (dx, dy) = match ev.key().as_str() {
            "ArrowLeft" => (-KEY_STEP, 0.0),
            "ArrowRight" => (KEY_STEP, 0.0),
            "ArrowUp" => (0.0, -KEY_STEP),
            "ArrowDown" => (0.0, KEY_STEP),
            _ => return,
        };
        ev.prevent_default();
        // Start from where the square is (it may have been moved inside the photo).
        let now = crop.get_untracked();
        let (x, y) = (now.left + now.width / 2.0, now.top + now.height / 2.0);
        centre.set(((x + dx).clamp(0.0, 1.0), (y + dy).clamp(0.0, 1.0)));
    };
    let given = shown.given.clone();
    let analyse = move |_| {
        open.set(false);
        state.analyse(given.cropped(crop.get_untracked()));
    };
    move || {
        open.get().then(|| {
            view! {
                <section class="crop no-print" aria-labelledby="crop-heading" data-test="crop">
                    <h3 id="crop-heading">{move || state.t("crop.heading")}</h3>
                    <p>{move || state.t("crop.hint")}</p>
                    <canvas
                        node_ref=canvas
                        tabindex="0"
                        role="img"
                        aria-label=move || state.t("crop.canvas_label")
                        data-test="crop-photo"
                        on:click=move |ev| {
                            if let Some(at) = clicked_at(&ev) {
                                centre.set(at);
                            }
                        }
                        on:keydown=on_key
                    ></canvas>
                    <div class="controls">
                        <Slider label="crop.size" min=0.1 max=1.0 step=0.05 value=side test="crop-size"/>
                    </div>
                    <div class="buttons">
                        <button type="button" data-test="crop-analyse" on:click=analyse.clone()>
                            {move || state.t("crop.analyse")}
                        </button>
                        <button type="button" class="secondary" data-test="crop-close" on:click=move |_| open.set(false)>
                            {move || state.t("crop.close")}
                        </button>
                    </div>
                </section>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn the_square_is_outlined_and_the_rest_dimmed() {
        let photo = RgbImage::from_pixel(20, 10, image::Rgb([100, 200, 50]));
        let crop = Crop::square(0.5, 0.5, 0.8, 20, 10);
        let [x, y, w, h] = crop.pixels(20, 10);
        assert_eq!([x, y, w, h], [6, 1, 8, 8]);
        let out = framed(&photo, crop);
        assert_eq!(out.get_pixel(0, 0), &image::Rgb([40, 80, 20]), "outside: dimmed");
        assert_eq!(out.get_pixel(6, 1), &image::Rgb([255, 255, 255]), "the edge: white");
        assert_eq!(out.get_pixel(10, 5), &image::Rgb([100, 200, 50]), "inside: as it was");
        assert_eq!(out.get_pixel(13, 8), &image::Rgb([255, 255, 255]));
        assert_eq!(out.get_pixel(14, 5), &image::Rgb([40, 80, 20]), "just right of it: dimmed");
    }
}
