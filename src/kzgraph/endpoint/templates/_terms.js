{#- How a term is shown to people: labels, local links, numbers. Included by the query
    editor (yasgui.html) and the builder (explore.html), inside their <script>. -#}
const prefixes = {{ prefixes_json | safe }};
let labels = {};
const labelsReady = fetch("/api/labels").then((r) => r.json()).then((l) => { labels = l; });

// ---- showing terms as people read them: labels, local links, numbers ------------------------
const NUMERIC = /#(integer|decimal|double|float|long|int|short|nonNegativeInteger|positiveInteger)$/;
function curie(iri) {
  for (const [p, ns] of Object.entries(prefixes)) if (iri.startsWith(ns) && iri.length > ns.length) return p + ":" + iri.slice(ns.length);
  return iri;
}
function localHref(iri) {
  const base = "https://w3id.org/kzgraph/";
  if (iri.startsWith(base + "ontology#")) return "/ontology/" + iri.slice((base + "ontology#").length);
  if (iri.startsWith(base + "shapes#")) return "/shapes/" + iri.slice((base + "shapes#").length);
  if (iri.startsWith(base)) return "/" + iri.slice(base.length).replace("#", "%23");
  return null;
}
function cell(term) {
  const td = document.createElement("td");
  if (!term) return td;
  if (term.type === "uri") {
    const a = document.createElement("a");
    a.textContent = labels[term.value] || curie(term.value);
    a.title = term.value;
    a.href = localHref(term.value) || term.value;
    if (!localHref(term.value)) { a.rel = "external noopener"; a.target = "_blank"; }
    td.appendChild(a);
  } else if (term.type === "literal" || term.type === "typed-literal") {
    const dt = term.datatype || "";
    if (NUMERIC.test(dt) && !isNaN(Number(term.value))) {
      td.textContent = Number(term.value).toLocaleString("en");
      td.className = "num";
    } else {
      td.textContent = term.value;
    }
    td.title = dt ? curie(dt) : (term["xml:lang"] ? "@" + term["xml:lang"] : "");
  } else {
    td.textContent = "_:" + term.value;
  }
  return td;
}
