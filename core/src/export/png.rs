//! A small rasterizer for charts: anti-aliased polygons and rectangles, and text in an
//! embedded 8×8 bitmap font (font8x8: Basic Latin and Latin-1, so PNG labels use the
//! English names; other characters are drawn as `?`). No system fonts are used, so a
//! PNG looks the same on every machine.

use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};

use crate::error::{Error, Result};

/// An RGB colour, 0–255 per channel.
pub(crate) type Rgb = [u8; 3];

/// An RGB image being drawn on.
pub(crate) struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<[f32; 3]>,
}

/// Horizontal alignment of text relative to its x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// Sub-scanlines per pixel row for anti-aliasing.
const SUB: usize = 4;

fn glyph(c: char) -> [u8; 8] {
    let code = c as u32;
    match code {
        0x20..=0x7e => BASIC_LEGACY[code as usize],
        0xa0..=0xff => LATIN_LEGACY[(code - 0xa0) as usize],
        _ => BASIC_LEGACY['?' as usize],
    }
}

/// Spells out characters the font lacks but captions use (ε, δ, σ, arrows, dashes).
pub(crate) fn to_latin1(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'ε' => out.push_str("eps"),
            'δ' => out.push_str("delta"),
            'σ' => out.push_str("sigma"),
            'Δ' => out.push_str("Delta"),
            '→' => out.push_str("->"),
            '–' | '—' => out.push('-'),
            '≤' => out.push_str("<="),
            '≥' => out.push_str(">="),
            c if (c as u32) < 0x100 => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

impl Canvas {
    pub(crate) fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        let bg = background.map(|c| f32::from(c) / 255.0);
        Canvas {
            width,
            height,
            pixels: vec![bg; width * height],
        }
    }

    fn blend(&mut self, x: usize, y: usize, color: [f32; 3], alpha: f32) {
        if x >= self.width || y >= self.height || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = &mut self.pixels[y * self.width + x];
        for i in 0..3 {
            p[i] = p[i] * (1.0 - a) + color[i] * a;
        }
    }

    /// Fills a simple polygon (even-odd rule) with `color` at `opacity`, anti-aliased.
    pub(crate) fn fill_polygon(&mut self, points: &[(f64, f64)], color: Rgb, opacity: f64) {
        if points.len() < 3 {
            return;
        }
        let color = color.map(|c| f32::from(c) / 255.0);
        let ymin = points
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(0.0);
        let ymax = points
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil()
            .min(self.height as f64);
        if ymin >= ymax {
            return;
        }
        let mut cover = vec![0f32; self.width];
        let mut xs: Vec<f64> = Vec::new();
        for y in ymin as usize..ymax as usize {
            cover.iter_mut().for_each(|c| *c = 0.0);
            let mut touched = false;
            for s in 0..SUB {
                let sy = y as f64 + (s as f64 + 0.5) / SUB as f64;
                xs.clear();
                for i in 0..points.len() {
                    let (x0, y0) = points[i];
                    let (x1, y1) = points[(i + 1) % points.len()];
                    if (y0 <= sy && sy < y1) || (y1 <= sy && sy < y0) {
                        xs.push(x0 + (sy - y0) / (y1 - y0) * (x1 - x0));
                    }
                }
                xs.sort_by(f64::total_cmp);
                for pair in xs.chunks_exact(2) {
                    let (a, b) = (pair[0].max(0.0), pair[1].min(self.width as f64));
                    if b <= a {
                        continue;
                    }
                    touched = true;
                    let mut px = a.floor() as usize;
                    while (px as f64) < b && px < self.width {
                        let overlap = b.min(px as f64 + 1.0) - a.max(px as f64);
                        cover[px] += (overlap / SUB as f64) as f32;
                        px += 1;
                    }
                }
            }
            if touched {
                for (x, c) in cover.iter().enumerate() {
                    if *c > 0.0 {
                        self.blend(x, y, color, c * opacity as f32);
                    }
                }
            }
        }
    }

    /// Fills an axis-aligned rectangle.
    pub(crate) fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb, opacity: f64) {
        self.fill_polygon(
            &[(x, y), (x + w, y), (x + w, y + h), (x, y + h)],
            color,
            opacity,
        );
    }

    /// Width in pixels of `text` at `scale`.
    pub(crate) fn text_width(text: &str, scale: usize) -> f64 {
        (text.chars().count() * 8 * scale) as f64
    }

    /// Draws `text` with its vertical centre at `y`.
    pub(crate) fn text(
        &mut self,
        x: f64,
        y: f64,
        text: &str,
        scale: usize,
        anchor: Anchor,
        color: Rgb,
    ) {
        let scale = scale.max(1);
        let text = to_latin1(text);
        let width = Canvas::text_width(&text, scale);
        let left = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - width / 2.0,
            Anchor::End => x - width,
        }
        .round();
        let top = (y - 4.0 * scale as f64).round();
        let color = color.map(|c| f32::from(c) / 255.0);
        for (i, ch) in text.chars().enumerate() {
            let rows = glyph(ch);
            for (gy, row) in rows.iter().enumerate() {
                for gx in 0..8 {
                    if row >> gx & 1 == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let px = left + ((i * 8 + gx) * scale + dx) as f64;
                            let py = top + (gy * scale + dy) as f64;
                            if px >= 0.0 && py >= 0.0 {
                                self.blend(px as usize, py as usize, color, 1.0);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Encodes the image as an 8-bit RGB PNG with `description` as a text chunk.
    pub(crate) fn encode(&self, title: &str, description: &str) -> Result<Vec<u8>> {
        let bytes: Vec<u8> = self
            .pixels
            .iter()
            .flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8))
            .collect();
        let err = |e: png::EncodingError| Error::Internal(format!("png: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .add_text_chunk("Title".into(), to_latin1(title))
                .map_err(err)?;
            encoder
                .add_text_chunk("Description".into(), to_latin1(description))
                .map_err(err)?;
            let mut writer = encoder.write_header().map_err(err)?;
            writer.write_image_data(&bytes).map_err(err)?;
            writer.finish().map_err(err)?;
        }
        Ok(out)
    }

    /// The colour of pixel (x, y), for tests.
    #[cfg(test)]
    pub(crate) fn pixel(&self, x: usize, y: usize) -> Rgb {
        self.pixels[y * self.width + x].map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_cover_their_area_and_text_draws() {
        let mut c = Canvas::new(100, 50, [255, 255, 255]);
        c.fill_rect(10.0, 10.0, 30.0, 20.0, [0, 0, 0], 1.0);
        assert_eq!(c.pixel(20, 20), [0, 0, 0]);
        assert_eq!(c.pixel(5, 5), [255, 255, 255]);
        assert_eq!(c.pixel(40, 20), [255, 255, 255]);
        // Half-covered pixel column: grey.
        c.fill_rect(50.0, 10.0, 10.5, 10.0, [0, 0, 0], 1.0);
        let half = c.pixel(60, 15)[0];
        assert!((100..160).contains(&half), "{half}");
        let mut t = Canvas::new(40, 20, [255, 255, 255]);
        t.text(2.0, 10.0, "Hi", 1, Anchor::Start, [0, 0, 0]);
        let dark = (0..40)
            .flat_map(|x| (0..20).map(move |y| (x, y)))
            .filter(|&(x, y)| t.pixel(x, y)[0] == 0)
            .count();
        assert!(dark > 10);
        let png = t.encode("t", "Kyrgyzstan → Russia").unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(glyph('Ж'), glyph('?'));
        assert_eq!(to_latin1("ε = 1, δ → Côte"), "eps = 1, delta -> Côte");
    }
}
