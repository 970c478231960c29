// Render the math that pymdownx.arithmatex (generic mode) marks on the page: \( \) inline,
// \[ \] displayed, inside elements of class "arithmatex". KaTeX is served by the site
// itself (docs/assets/katex/), so formulas render offline.
function relukitRenderMath() {
  for (const el of document.querySelectorAll(".arithmatex")) {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(relukitRenderMath);  // Material's instant navigation, if turned on
} else {
  document.addEventListener("DOMContentLoaded", relukitRenderMath);
}
