// eval --html: one self-contained page (no scripts, fonts or links) with the metrics, the
// per-output agreement and, with --per-tensor, an inline SVG chart of each quantized tensor's
// SQNR in graph order, the worst named.
#include <modelkit/run.hpp>

#include <algorithm>
#include <cstdio>

namespace modelkit::infer {
namespace {

std::string escape_html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v, const char* format = "%.6g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Bars measure how far a tensor's SQNR falls below this ceiling: a clean tensor is a short bar.
constexpr double kChartCeilingDb = 60.0;
constexpr int kChartHeight = 240, kBarWidth = 14, kBarGap = 4, kMargin = 40;

std::string chart(const EvalReport& r, std::size_t worst_named) {
  std::vector<const TensorError*> bars;
  for (const auto& t : r.per_tensor) bars.push_back(&t);
  std::stable_sort(bars.begin(), bars.end(),
                   [](const TensorError* a, const TensorError* b) { return a->graph_index < b->graph_index; });
  const int width = kMargin * 2 + static_cast<int>(bars.size()) * (kBarWidth + kBarGap);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"per-tensor-chart\" width=\"" + std::to_string(width) +
                    "\" height=\"" + std::to_string(kChartHeight + 2 * kMargin) + "\" role=\"img\">\n";
  svg += "<text x=\"4\" y=\"16\" font-size=\"12\">dB below " + number(kChartCeilingDb, "%.0f") +
         " dB SQNR (taller = worse), tensors in graph order</text>\n";
  svg += "<line x1=\"" + std::to_string(kMargin) + "\" y1=\"" + std::to_string(kMargin + kChartHeight) + "\" x2=\"" +
         std::to_string(width - kMargin) + "\" y2=\"" + std::to_string(kMargin + kChartHeight) + "\" stroke=\"#333\"/>\n";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& t = *bars[i];
    const std::size_t rank = static_cast<std::size_t>(
        std::find_if(r.per_tensor.begin(), r.per_tensor.end(), [&](const TensorError& e) { return &e == &t; }) -
        r.per_tensor.begin());
    const double depth = std::clamp(kChartCeilingDb - t.qdq_sqnr, 0.0, kChartCeilingDb);
    const int h = static_cast<int>(depth / kChartCeilingDb * kChartHeight + 0.5);
    const int x = kMargin + static_cast<int>(i) * (kBarWidth + kBarGap);
    const bool named = rank < worst_named;
    svg += "<rect class=\"bar\" data-tensor=\"" + escape_html(t.tensor) + "\" data-sqnr=\"" + number(t.qdq_sqnr, "%.17g") +
           "\" data-rank=\"" + std::to_string(rank + 1) + "\" x=\"" + std::to_string(x) + "\" y=\"" +
           std::to_string(kMargin + kChartHeight - h) + "\" width=\"" + std::to_string(kBarWidth) + "\" height=\"" +
           std::to_string(h) + "\" fill=\"" + (named ? "#c0392b" : "#7f8c8d") + "\"><title>" + escape_html(t.tensor) +
           ": " + number(t.qdq_sqnr, "%.2f") + " dB</title></rect>\n";
    if (named)
      svg += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(kMargin + kChartHeight - h - 4) +
             "\" font-size=\"10\" transform=\"rotate(-30 " + std::to_string(x) + " " +
             std::to_string(kMargin + kChartHeight - h - 4) + ")\">" + escape_html(t.tensor) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace

std::string eval_report_html(const EvalReport& r, std::size_t worst_named) {
  std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>modelkit eval</title>\n"
                  "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                  "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head><body>\n";
  h += "<h1>modelkit eval: " + escape_html(r.model) + "</h1>\n<table>\n";
  auto row = [&](std::string_view k, const std::string& v) {
    h += "<tr><th>" + escape_html(k) + "</th><td>" + escape_html(v) + "</td></tr>\n";
  };
  row("compared with", r.compare.value_or("-"));
  row("task", r.resolution.task.value_or("unresolved"));
  row("data", r.data_source);
  row("samples", std::to_string(r.samples) + " (" + std::to_string(r.labelled) + " labelled, " +
                     std::to_string(r.skipped) + " skipped)");
  using Metric = std::pair<const char*, std::optional<double>>;
  for (const auto& [name, v] : {Metric{"accuracy", r.accuracy}, Metric{"macro_f1", r.macro_f1},
                                Metric{"compare_accuracy", r.compare_accuracy}, Metric{"top1_agreement", r.top1_agreement},
                                Metric{"mean_kl", r.mean_kl}, Metric{"mean_cosine", r.mean_cosine},
                                Metric{"spearman", r.spearman}, Metric{"entity_f1", r.entity_f1},
                                Metric{"compare_entity_f1", r.compare_entity_f1}, Metric{"exact_match", r.exact_match},
                                Metric{"qa_f1", r.qa_f1}, Metric{"compare_exact_match", r.compare_exact_match},
                                Metric{"compare_qa_f1", r.compare_qa_f1}})
    if (v) row(name, number(*v));
  h += "</table>\n";
  if (!r.outputs.empty()) {
    h += "<h2>Outputs</h2>\n<table><tr><th>output</th><th>mean cosine</th><th>min cosine</th><th>max |diff|</th></tr>\n";
    for (const auto& o : r.outputs)
      h += "<tr><td>" + escape_html(o.name) + "</td><td>" + number(o.mean_cosine) + "</td><td>" + number(o.min_cosine) +
           "</td><td>" + number(o.max_abs) + "</td></tr>\n";
    h += "</table>\n";
  }
  if (!r.per_tensor.empty()) {
    h += "<h2>Error per quantized tensor</h2>\n" + chart(r, worst_named);
    h += "<p>Keep the worst in float: <code>" + escape_html(r.exclude_nodes) + "</code></p>\n";
  }
  for (const auto& n : r.notes) h += "<p class=\"note\">" + escape_html(n) + "</p>\n";
  h += "</body></html>\n";
  return h;
}

}  // namespace modelkit::infer
