//! Charts people would rather look at than read: a route diagram (flows from one
//! dimension to another, thickness by count) and bar charts, drawn from a [`Table`]'s
//! released cells only, so a chart never shows a count the table suppressed. The same
//! scene renders to SVG and to PNG; every drawn quantity keeps its number (SVG
//! `data-count` attributes, `<title>` tooltips, PNG text chunks for the caption).

use serde::{Deserialize, Serialize};

use super::png::{Anchor, Canvas, Rgb};
use super::tables::Table;
use crate::error::{Error, Result};
use crate::vocab::Lang;

/// Colours for series (Tableau 10).
const PALETTE: [Rgb; 10] = [
    [0x4e, 0x79, 0xa7],
    [0xf2, 0x8e, 0x2b],
    [0xe1, 0x57, 0x59],
    [0x76, 0xb7, 0xb2],
    [0x59, 0xa1, 0x4f],
    [0xed, 0xc9, 0x48],
    [0xb0, 0x7a, 0xa1],
    [0xff, 0x9d, 0xa7],
    [0x9c, 0x75, 0x5f],
    [0xba, 0xb0, 0xac],
];
const INK: Rgb = [0x22, 0x22, 0x22];
const MUTED: Rgb = [0x66, 0x66, 0x66];
const NODE: Rgb = [0x44, 0x44, 0x44];
const WHITE: Rgb = [0xff, 0xff, 0xff];

/// Pixels per character of label text (the PNG font is 8 px wide; SVG uses a monospace
/// font of similar width).
const CHAR: f64 = 8.0;

/// One quantity a chart shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartDatum {
    /// `"bar"`, `"flow"` or `"node"`.
    pub kind: String,
    /// The table values it stands for (one for a bar or node, two for a flow).
    pub values: Vec<String>,
    /// The count drawn.
    pub count: u64,
}

#[derive(Clone, Debug)]
enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Rgb,
        opacity: f64,
        datum: Option<usize>,
    },
    Ribbon {
        x0: f64,
        y0: (f64, f64),
        x1: f64,
        y1: (f64, f64),
        fill: Rgb,
        datum: usize,
    },
    Text {
        x: f64,
        y: f64,
        text: String,
        scale: usize,
        anchor: Anchor,
        fill: Rgb,
    },
}

/// A chart: what it shows, and how to draw it.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The title.
    pub title: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Every quantity drawn, with its count.
    pub data: Vec<ChartDatum>,
    /// How the counts are protected (from the table's privacy report).
    pub caption: String,
    shapes: Vec<Shape>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Breaks `text` into lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The caption: what is counted, what is left out, and the privacy statement, in
/// `lang`.
fn caption(table: &Table, lang: Lang) -> String {
    if lang == Lang::Ru {
        return caption_ru(table);
    }
    let mut s = format!("Counts of {}. ", table.unit);
    let k = table.privacy.k;
    if table.privacy.differentially_private {
        if let Some(m) = table.suppressed_total.filter(|&m| m > 0) {
            s.push_str(&format!(
                "Noisy counts below {} not shown (about {m} cases). ",
                table.privacy.threshold
            ));
        }
    } else {
        match table.suppressed_total {
            Some(0) => {}
            Some(w) => s.push_str(&format!(
                "{w} record(s) in groups below k = {k} not counted. "
            )),
            None => s.push_str(&format!(
                "Fewer than k = {k} record(s) in groups below k not counted. "
            )),
        }
    }
    // Capitalize an ASCII first letter only: the statement may start with "ε", whose
    // capital is the Greek Ε, which reads as a Latin E.
    let statement = &table.privacy.statement;
    let mut chars = statement.chars();
    match chars.next() {
        Some(first) if first.is_ascii_lowercase() => {
            s.push(first.to_ascii_uppercase());
            s.push_str(chars.as_str());
        }
        _ => s.push_str(statement),
    }
    s.push('.');
    s
}

/// [`caption`] in Russian.
fn caption_ru(table: &Table) -> String {
    let unit = match table.unit.as_str() {
        "released records" => "записей k-анонимного выпуска",
        "cases" => "случаев",
        "referrals" => "направлений",
        other => other,
    };
    let mut s = format!("Число {unit}. ");
    let k = table.privacy.k;
    if table.privacy.differentially_private {
        if let Some(m) = table.suppressed_total.filter(|&m| m > 0) {
            s.push_str(&format!(
                "Числа с шумом ниже {} не показаны (около {m} случаев). ",
                table.privacy.threshold
            ));
        }
    } else {
        match table.suppressed_total {
            Some(0) => {}
            Some(w) => s.push_str(&format!(
                "Записей в группах меньше k = {k} не учтено: {w}. "
            )),
            None => s.push_str(&format!(
                "Записей в группах меньше k = {k} не учтено: меньше k. "
            )),
        }
    }
    let statement = table.statement_in(Lang::Ru);
    let mut chars = statement.chars();
    if let Some(first) = chars.next() {
        s.extend(first.to_uppercase());
        s.push_str(chars.as_str());
    }
    s.push('.');
    s
}

impl Chart {
    fn new(title: &str, width: usize, table: &Table, lang: Lang) -> Chart {
        Chart {
            title: title.to_string(),
            width,
            height: 0,
            data: Vec::new(),
            caption: caption(table, lang),
            shapes: vec![Shape::Text {
                x: 20.0,
                y: 24.0,
                text: title.to_string(),
                scale: 2,
                anchor: Anchor::Start,
                fill: INK,
            }],
        }
    }

    fn text(&mut self, x: f64, y: f64, text: String, anchor: Anchor, fill: Rgb) {
        self.shapes.push(Shape::Text {
            x,
            y,
            text,
            scale: 1,
            anchor,
            fill,
        });
    }

    /// Adds the caption below `y` and sets the height.
    fn finish(&mut self, y: f64) {
        let per_line = (self.width - 40) / CHAR as usize;
        let mut y = y + 24.0;
        for line in wrap(&self.caption.clone(), per_line) {
            self.text(20.0, y, line, Anchor::Start, MUTED);
            y += 14.0;
        }
        self.height = (y + 10.0) as usize;
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> String {
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" \
             role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n<desc>{d}</desc>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
            w = self.width,
            h = self.height,
            t = escape(&self.title),
            d = escape(&self.caption),
        );
        let data_attrs = |i: usize| {
            let d = &self.data[i];
            format!(
                " data-kind=\"{}\" data-values=\"{}\" data-count=\"{}\"",
                d.kind,
                escape(&d.values.join("|")),
                d.count
            )
        };
        let tip = |i: usize| {
            let d = &self.data[i];
            format!(
                "<title>{}: {}</title>",
                escape(&d.values.join(" → ")),
                d.count
            )
        };
        for shape in &self.shapes {
            match shape {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    opacity,
                    datum,
                } => {
                    out.push_str(&format!(
                        "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" \
                         fill=\"{}\" fill-opacity=\"{opacity}\"",
                        hex(*fill)
                    ));
                    match datum {
                        Some(i) => {
                            out.push_str(&format!("{}>{}</rect>\n", data_attrs(*i), tip(*i)))
                        }
                        None => out.push_str("/>\n"),
                    }
                }
                Shape::Ribbon {
                    x0,
                    y0,
                    x1,
                    y1,
                    fill,
                    datum,
                } => {
                    let xm = (x0 + x1) / 2.0;
                    out.push_str(&format!(
                        "<path d=\"M{x0:.2},{a:.2} C{xm:.2},{a:.2} {xm:.2},{b:.2} {x1:.2},{b:.2} \
                         L{x1:.2},{d:.2} C{xm:.2},{d:.2} {xm:.2},{c:.2} {x0:.2},{c:.2} Z\" \
                         fill=\"{f}\" fill-opacity=\"0.55\"{attrs}>{tip}</path>\n",
                        a = y0.0,
                        c = y0.1,
                        b = y1.0,
                        d = y1.1,
                        f = hex(*fill),
                        attrs = data_attrs(*datum),
                        tip = tip(*datum),
                    ));
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    scale,
                    anchor,
                    fill,
                } => {
                    let anchor = match anchor {
                        Anchor::Start => "start",
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    };
                    let size = if *scale > 1 { 20 } else { 13 };
                    let weight = if *scale > 1 {
                        " font-weight=\"bold\""
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "<text x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"{size}\" \
                         dominant-baseline=\"middle\" text-anchor=\"{anchor}\" fill=\"{}\"{weight}>{}</text>\n",
                        hex(*fill),
                        escape(text)
                    ));
                }
            }
        }
        out.push_str("</svg>\n");
        out
    }

    fn raster(&self) -> Canvas {
        let mut canvas = Canvas::new(self.width, self.height, WHITE);
        for shape in &self.shapes {
            match shape {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    opacity,
                    ..
                } => canvas.fill_rect(*x, *y, *w, *h, *fill, *opacity),
                Shape::Ribbon {
                    x0,
                    y0,
                    x1,
                    y1,
                    fill,
                    ..
                } => {
                    // Flatten the two cubic edges (same control points as the SVG path).
                    let xm = (x0 + x1) / 2.0;
                    let bezier = |t: f64, p0: f64, p1: f64, p2: f64, p3: f64| {
                        let u = 1.0 - t;
                        u * u * u * p0
                            + 3.0 * u * u * t * p1
                            + 3.0 * u * t * t * p2
                            + t * t * t * p3
                    };
                    let steps = 48;
                    let mut pts = Vec::with_capacity(2 * steps + 2);
                    for s in 0..=steps {
                        let t = s as f64 / steps as f64;
                        pts.push((
                            bezier(t, *x0, xm, xm, *x1),
                            bezier(t, y0.0, y0.0, y1.0, y1.0),
                        ));
                    }
                    for s in (0..=steps).rev() {
                        let t = s as f64 / steps as f64;
                        pts.push((
                            bezier(t, *x0, xm, xm, *x1),
                            bezier(t, y0.1, y0.1, y1.1, y1.1),
                        ));
                    }
                    canvas.fill_polygon(&pts, *fill, 0.55);
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    scale,
                    anchor,
                    fill,
                } => canvas.text(*x, *y, text, *scale, *anchor, *fill),
            }
        }
        canvas
    }

    /// The chart as a PNG image (labels in the embedded bitmap font).
    ///
    /// Refused when a text holds Cyrillic: the embedded font has no Cyrillic glyphs,
    /// and a chart of question marks is not published (draw it as SVG).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let cyrillic = |t: &str| t.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c));
        let texts = self.shapes.iter().filter_map(|s| match s {
            Shape::Text { text, .. } => Some(text.as_str()),
            _ => None,
        });
        if cyrillic(&self.title) || texts.into_iter().any(cyrillic) {
            return Err(Error::invalid(
                "format",
                "the PNG font has no Cyrillic glyphs: draw this chart as SVG (--format svg)",
            ));
        }
        self.raster().encode(&self.title, &self.caption)
    }
}

/// A horizontal bar chart of a one-dimensional table (e.g. exploitation types or means
/// of control), largest first, labelled in English.
pub fn bar_chart(table: &Table, title: &str) -> Result<Chart> {
    bar_chart_in(table, title, Lang::En)
}

/// As [`bar_chart`], the values labelled in `lang`.
pub fn bar_chart_in(table: &Table, title: &str, lang: Lang) -> Result<Chart> {
    let [dim] = table.dimensions.as_slice() else {
        return Err(Error::invalid(
            "chart",
            "a bar chart needs a table of one dimension",
        ));
    };
    let mut chart = Chart::new(title, 860, table, lang);
    let labels: Vec<String> = table
        .cells
        .iter()
        .map(|c| dim.label(&c.values[0], lang))
        .collect();
    let label_w = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(4)
        .min(40) as f64
        * CHAR;
    let x0 = 20.0 + label_w + 12.0;
    let area = chart.width as f64 - x0 - 90.0;
    let max = table
        .cells
        .iter()
        .map(|c| c.count)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut y = 56.0;
    if table.cells.is_empty() {
        chart.text(
            20.0,
            y + 10.0,
            nothing_to_show(table, lang),
            Anchor::Start,
            INK,
        );
        y += 24.0;
    }
    for (i, (cell, label)) in table.cells.iter().zip(labels).enumerate() {
        let w = cell.count as f64 / max * area;
        chart.data.push(ChartDatum {
            kind: "bar".into(),
            values: cell.values.clone(),
            count: cell.count,
        });
        let label: String = label.chars().take(40).collect();
        chart.text(x0 - 12.0, y + 10.0, label, Anchor::End, INK);
        chart.shapes.push(Shape::Rect {
            x: x0,
            y,
            w,
            h: 20.0,
            fill: PALETTE[0],
            opacity: 1.0,
            datum: Some(i),
        });
        chart.text(
            x0 + w + 8.0,
            y + 10.0,
            cell.count.to_string(),
            Anchor::Start,
            INK,
        );
        y += 28.0;
    }
    chart.finish(y);
    Ok(chart)
}

/// A route diagram of a two-dimensional table: flows from the first dimension's values
/// (left, e.g. citizenship) to the second's (right, e.g. country of exploitation),
/// thickness proportional to the count.
pub fn route_diagram(table: &Table, title: &str) -> Result<Chart> {
    route_diagram_in(table, title, Lang::En)
}

/// As [`route_diagram`], the countries labelled in `lang`.
pub fn route_diagram_in(table: &Table, title: &str, lang: Lang) -> Result<Chart> {
    let [from_dim, to_dim] = table.dimensions.as_slice() else {
        return Err(Error::invalid(
            "chart",
            "a route diagram needs a table of two dimensions",
        ));
    };
    let mut chart = Chart::new(title, 960, table, lang);
    let left = table.margin(0);
    let right = table.margin(1);
    let total = table.released_total.max(1) as f64;
    let gap = 10.0;
    let nodes = left.len().max(right.len()).max(1) as f64;
    let span = (nodes * 26.0).clamp(260.0, 900.0);
    let scale = span / total;
    let top = 60.0;
    let (lx, rx, node_w) = (300.0, 640.0, 14.0);
    let place = |margin: &[(String, u64)],
                 x: f64,
                 dim: crate::export::Dimension,
                 right: bool,
                 chart: &mut Chart| {
        let mut pos = Vec::new();
        let mut y = top;
        for (value, count) in margin {
            let h = (*count as f64 * scale).max(1.0);
            chart.data.push(ChartDatum {
                kind: "node".into(),
                values: vec![value.clone()],
                count: *count,
            });
            let datum = chart.data.len() - 1;
            chart.shapes.push(Shape::Rect {
                x,
                y,
                w: node_w,
                h,
                fill: NODE,
                opacity: 1.0,
                datum: Some(datum),
            });
            let label = format!("{} {}", dim.label(value, lang), count);
            let (tx, anchor) = if right {
                (x + node_w + 8.0, Anchor::Start)
            } else {
                (x - 8.0, Anchor::End)
            };
            chart.text(tx, y + h / 2.0, label, anchor, INK);
            pos.push((value.clone(), y));
            y += h + gap;
        }
        (pos, y)
    };
    let (left_pos, left_end) = place(&left, lx, *from_dim, false, &mut chart);
    let (right_pos, right_end) = place(&right, rx, *to_dim, true, &mut chart);
    let mut left_fill: Vec<f64> = left_pos.iter().map(|p| p.1).collect();
    let mut right_fill: Vec<f64> = right_pos.iter().map(|p| p.1).collect();
    // Flows in the order of their source node, then target node, so ribbons do not cross
    // within a node.
    let mut flows: Vec<(usize, usize, &super::tables::Cell)> = table
        .cells
        .iter()
        .filter_map(|c| {
            let a = left_pos.iter().position(|p| p.0 == c.values[0])?;
            let b = right_pos.iter().position(|p| p.0 == c.values[1])?;
            Some((a, b, c))
        })
        .collect();
    flows.sort_by_key(|(a, b, _)| (*a, *b));
    for (a, b, cell) in flows {
        let h = (cell.count as f64 * scale).max(1.0);
        chart.data.push(ChartDatum {
            kind: "flow".into(),
            values: cell.values.clone(),
            count: cell.count,
        });
        let datum = chart.data.len() - 1;
        let y0 = (left_fill[a], left_fill[a] + h);
        let y1 = (right_fill[b], right_fill[b] + h);
        left_fill[a] += h;
        right_fill[b] += h;
        chart.shapes.push(Shape::Ribbon {
            x0: lx + node_w,
            y0,
            x1: rx,
            y1,
            fill: PALETTE[a % PALETTE.len()],
            datum,
        });
    }
    if table.cells.is_empty() {
        chart.text(
            20.0,
            top + 10.0,
            nothing_to_show(table, lang),
            Anchor::Start,
            INK,
        );
    }
    chart.text(
        lx + node_w / 2.0,
        top - 16.0,
        from_dim.title(lang).into(),
        Anchor::Middle,
        MUTED,
    );
    chart.text(
        rx + node_w / 2.0,
        top - 16.0,
        to_dim.title(lang).into(),
        Anchor::Middle,
        MUTED,
    );
    chart.finish(left_end.max(right_end).max(top + 40.0));
    Ok(chart)
}

/// The caption of a chart with no cell: exact tables hide cells below k; DP tables
/// hide cells whose noisy count is below the threshold (the larger of k and the
/// partition selection threshold), which can hide cells of k cases or more.
fn nothing_to_show(table: &Table, lang: Lang) -> String {
    if lang == Lang::Ru {
        return if table.privacy.differentially_private {
            format!(
                "Нечего показать: ни одно число с шумом не достигло порога {} (k = {} и \
                 отбор ячеек).",
                table.privacy.threshold, table.privacy.k
            )
        } else {
            format!(
                "Нечего показать: все ячейки меньше k = {}.",
                table.privacy.k
            )
        };
    }
    if table.privacy.differentially_private {
        format!(
            "Nothing to show: no cell's noisy count reached the threshold {} (k = {} and \
             partition selection).",
            table.privacy.threshold, table.privacy.k
        )
    } else {
        format!(
            "Nothing to show: every cell is below k = {}.",
            table.privacy.k
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::dp::{DpSpec, Mechanism, SeededNoise};
    use crate::export::tables::{table_with_noise, Dimension, TableSpec};
    use crate::export::testdata::{self, Rng};

    fn svg_data(svg: &str) -> Vec<(String, String, u64)> {
        let re = regex::Regex::new(r#"data-kind="(\w+)" data-values="([^"]*)" data-count="(\d+)""#)
            .unwrap();
        re.captures_iter(svg)
            .map(|c| (c[1].to_string(), c[2].to_string(), c[3].parse().unwrap()))
            .collect()
    }

    #[test]
    fn russian_labels_are_drawn_in_svg_and_refused_in_png() {
        let records = testdata::skewed(3_000, 21);
        let mut spec = TableSpec::new(vec![Dimension::MeansOfControl]);
        spec.dp = Some(DpSpec {
            epsilon: 1.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: crate::export::dp::DEFAULT_DELTA,
        });
        let t = table_with_noise(&records, &spec, &mut SeededNoise(Rng::new(5))).unwrap();
        let ru = bar_chart_in(&t, "Средства контроля", Lang::Ru).unwrap();
        let svg = ru.to_svg();
        assert!(svg.contains("Средства контроля"));
        assert!(
            svg.contains(">Изъятие документов") || svg.contains("документ"),
            "{svg}"
        );
        assert!(!svg.contains("Withholds documents"));
        // The same numbers as in English.
        let en = bar_chart(&t, "Means of control").unwrap();
        assert_eq!(svg_data(&svg), svg_data(&en.to_svg()));
        assert!(en.to_png().is_ok());
        let err = ru.to_png().unwrap_err().to_string();
        assert!(err.contains("Cyrillic"), "{err}");
        // Routes: Russian country names.
        let mut spec = TableSpec::new(vec![
            Dimension::Citizenship,
            Dimension::CountryOfExploitation,
        ]);
        spec.years = Some((2015, 2026));
        let t = crate::export::tables::table(&records, &spec).unwrap();
        let svg = route_diagram_in(&t, "Маршруты", Lang::Ru).unwrap().to_svg();
        assert!(
            svg.contains("Кыргызстан") || svg.contains("Киргиз"),
            "{svg}"
        );
        assert!(
            svg.contains("Россия") || svg.contains("Российская"),
            "{svg}"
        );
        // Red team round 3, F10: the axis labels and the caption in Russian too.
        assert!(svg.contains(">гражданство<"), "{svg}");
        assert!(svg.contains(">страна эксплуатации<"), "{svg}");
        assert!(!svg.contains("country-of-exploitation"), "{svg}");
        assert!(!svg.contains("Counts of") && !svg.contains("not differentially"));
        assert!(svg.contains("Число записей"), "{svg}");
    }

    #[test]
    fn bar_chart_numbers_match_the_table_in_svg_and_png() {
        let records = testdata::skewed(3_000, 21);
        let mut spec = TableSpec::new(vec![Dimension::MeansOfControl]);
        spec.dp = Some(DpSpec {
            epsilon: 1.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: crate::export::dp::DEFAULT_DELTA,
        });
        let t = table_with_noise(&records, &spec, &mut SeededNoise(Rng::new(5))).unwrap();
        let chart = bar_chart(&t, "Means of control").unwrap();
        let svg = chart.to_svg();
        let drawn = svg_data(&svg);
        assert_eq!(drawn.len(), t.cells.len());
        for ((kind, values, count), cell) in drawn.iter().zip(&t.cells) {
            assert_eq!(kind, "bar");
            assert_eq!(values, &cell.values[0]);
            assert_eq!(*count, cell.count);
            assert!(svg.contains(&format!(">{}</text>", cell.count)));
        }
        assert!(svg.contains("Withholds documents"));
        assert!(svg.contains("differential privacy"));
        // PNG: each bar's length in pixels is proportional to its count.
        let canvas = chart.raster();
        let bars: Vec<(f64, f64, f64)> = chart
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Rect {
                    x,
                    y,
                    w,
                    datum: Some(_),
                    ..
                } => Some((*x, *y, *w)),
                _ => None,
            })
            .collect();
        let max = t.cells[0].count as f64;
        let full = bars[0].2;
        for ((x, y, _), cell) in bars.iter().zip(&t.cells) {
            let row = (*y + 10.0) as usize;
            let len = (*x as usize..chart.width)
                .take_while(|&px| canvas.pixel(px, row) == PALETTE[0])
                .count() as f64;
            let expected = cell.count as f64 / max * full;
            assert!(
                (len - expected).abs() <= 1.0,
                "{len} px for {} (expected {expected})",
                cell.count
            );
        }
        let png = chart.to_png().unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width as usize, chart.width);
        assert_eq!(reader.info().height as usize, chart.height);
        assert!(reader
            .info()
            .uncompressed_latin1_text
            .iter()
            .any(|t| t.text.contains("k = 11")));
        // ε is written as ε (never as the Greek capital Ε, which reads as "E"), and
        // spelled out in the PNG's Latin-1 text.
        assert!(
            chart.caption.contains("(ε = 1, δ = 1e-6)"),
            "{}",
            chart.caption
        );
        assert!(!chart.caption.contains('Ε'));
        assert!(svg.contains("ε = 1"));
        assert!(reader
            .info()
            .uncompressed_latin1_text
            .iter()
            .any(|t| t.text.contains("(eps = 1, delta = 1e-6)")));
    }

    #[test]
    fn a_caption_never_capitalizes_epsilon() {
        let records = testdata::skewed(300, 23);
        let mut t =
            crate::export::table(&records, &TableSpec::new(vec![Dimension::Gender])).unwrap();
        t.privacy.statement = "ε = 1 differential privacy".into();
        let c = caption(&t, Lang::En);
        assert!(c.contains("ε = 1 differential privacy."), "{c}");
        assert!(!c.contains('Ε'));
        t.privacy.statement = "not differentially private".into();
        assert!(caption(&t, Lang::En).contains("Not differentially private."));
    }

    #[test]
    fn route_diagram_numbers_match_the_table() {
        let records = testdata::skewed(4_000, 22);
        let spec = TableSpec::new(vec![
            Dimension::Citizenship,
            Dimension::CountryOfExploitation,
        ]);
        let t = crate::export::table(&records, &spec).unwrap();
        let chart = route_diagram(&t, "Routes").unwrap();
        let svg = chart.to_svg();
        let drawn = svg_data(&svg);
        let flows: Vec<&(String, String, u64)> = drawn.iter().filter(|d| d.0 == "flow").collect();
        assert_eq!(flows.len(), t.cells.len());
        for cell in &t.cells {
            let key = cell.values.join("|");
            let f = flows.iter().find(|f| f.1 == key).unwrap();
            assert_eq!(f.2, cell.count);
        }
        for (value, sum) in t.margin(0) {
            assert!(drawn
                .iter()
                .any(|d| d.0 == "node" && d.1 == value && d.2 == sum));
        }
        // Nothing from a suppressed cell: every drawn count is at least k.
        assert!(drawn.iter().all(|d| d.2 >= 11));
        assert!(svg.contains("Kyrgyzstan"));
        let png = chart.to_png().unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        assert_eq!(reader.info().width as usize, chart.width);
        // Wrong shapes are refused; empty tables still draw.
        assert!(bar_chart(&t, "x").is_err());
        let one = crate::export::table(&records, &TableSpec::new(vec![Dimension::Gender])).unwrap();
        assert!(route_diagram(&one, "x").is_err());
        let empty = crate::export::table(&records[..5], &spec).unwrap();
        let chart = route_diagram(&empty, "Routes").unwrap();
        assert!(chart.to_svg().contains("Nothing to show"));
        assert!(!chart.to_png().unwrap().is_empty());
    }

    /// Red-team finding F8: an empty DP chart said "every cell is below k" when its
    /// cells were hidden by the partition selection threshold (k = 1 here).
    #[test]
    fn an_empty_dp_chart_names_the_threshold_not_k() {
        use crate::export::dp::DEFAULT_DELTA;
        let records = testdata::skewed(3, 1);
        let mut spec = TableSpec::new(vec![Dimension::Exploitation]);
        spec.k = 1;
        spec.dp = Some(DpSpec {
            epsilon: 1.0,
            mechanism: Mechanism::Laplace,
            max_contributions: None,
            delta: DEFAULT_DELTA,
        });
        let t = table_with_noise(&records, &spec, &mut SeededNoise(Rng::new(4))).unwrap();
        assert!(t.cells.is_empty());
        let svg = bar_chart(&t, "Exploitation").unwrap().to_svg();
        assert!(!svg.contains("every cell is below k"), "{svg}");
        assert!(svg.contains("noisy count reached the threshold"));
        let exact =
            crate::export::table(&records, &TableSpec::new(vec![Dimension::Exploitation])).unwrap();
        let svg = bar_chart(&exact, "Exploitation").unwrap().to_svg();
        assert!(svg.contains("every cell is below k = 11"));
    }
}
