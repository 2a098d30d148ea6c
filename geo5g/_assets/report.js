/* geo5g report page: builds the map layers from the GeoJSON embedded by
 * geo5g/render.py. Part of geo5g (MIT). Needs only Leaflet.
 *
 * Every string in the embedded data was HTML-escaped by render.py, so
 * tooltips may join them as HTML; numbers are formatted here.
 */
var geo5g = (function () {
  "use strict";

  var layers = {}; // key -> Leaflet layer (legend toggling, tests)

  function fmt(value, how) {
    if (value === null || value === undefined || value === "") {
      return "\u2014";
    }
    switch (how) {
      case "int":
        return Math.round(value).toLocaleString("en-US");
      case "f1":
        return Number(value).toFixed(1);
      case "f2":
        return Number(value).toFixed(2);
      case "km":
        return (value / 1000).toFixed(1) + " km";
      case "m":
        return Math.round(value).toLocaleString("en-US") + " m";
      case "met":
        return value ? "\u2714 met" : "\u2718 not met";
      case "covered":
        return value ? "\u2714 covered" : "\u2718 not covered";
      default:
        return String(value); // text, escaped by render.py
    }
  }

  function tooltip(spec) {
    return function (layer) {
      var p = layer.feature.properties;
      var html = "";
      if (spec.count) {
        return "<b>" + fmt(p[spec.count.prop], "int") + "</b> " + spec.count.label;
      }
      if (spec.title && p[spec.title]) {
        html += '<div class="geo5g-tip-title">' + p[spec.title] + "</div>";
      }
      if (spec.fields && spec.fields.length) {
        html += "<table>";
        spec.fields.forEach(function (f) {
          html += "<tr><th>" + f[1] + "</th><td>" + fmt(p[f[0]], f[2]) + "</td></tr>";
        });
        html += "</table>";
      }
      return html;
    };
  }

  function styler(spec) {
    return function (feature) {
      var style = Object.assign({}, spec.style);
      var k = feature.properties.k;
      if (spec.palette && k !== undefined) {
        var colour = k === null || k < 0 ? spec.nodata : spec.palette[k];
        if (spec.paint !== "stroke") {
          style.fillColor = colour;
        }
        if (spec.paint !== "fill") {
          style.color = colour;
        }
      }
      if (spec.notMet && feature.properties.met === false) {
        Object.assign(style, spec.notMet); // readable without colour (greyscale print)
      }
      return style;
    };
  }

  function labels(rows) {
    return rows.map(function (row) {
      return L.marker([row[0], row[1]], {
        icon: L.divIcon({
          className: "geo5g-label",
          html: "<span>" + row[2] + "</span>",
          iconSize: null,
        }),
        interactive: false,
        keyboard: false,
      });
    });
  }

  // Fixed drawing order whatever is toggled: each kind of layer has its own
  // pane, between Leaflet's tile (200) and marker (600) panes.
  var PANES = { zones: 380, density: 390, outlines: 395, lines: 410, points: 420 };
  var renderers = {};

  function pane(map, name) {
    if (!map.getPane(name)) {
      map.createPane(name).style.zIndex = PANES[name] || 400;
    }
    return name;
  }

  // One renderer per pane. SVG by default: its root lets the mouse through where
  // nothing is drawn, so every layer below still gets its hover and click (a
  // canvas per pane would catch every event for its own layer only, the known
  // Leaflet limitation that hid all tooltips but the top layer's). Only layers
  // of many small shapes (the density hexagons) ask for a canvas; their pane
  // lies below the lines and points.
  function renderer(map, spec) {
    var name = pane(map, spec.pane || "lines");
    var key = name + ":" + (spec.renderer || "svg");
    if (!renderers[key]) {
      var make = spec.renderer === "canvas" ? L.canvas : L.svg;
      renderers[key] = make({ pane: name, padding: 0.5 });
    }
    return renderers[key];
  }

  /* A layer from an embedded FeatureCollection and a spec (see render.py). */
  function layer(map, key, data, spec) {
    if (spec.kind === "image") {
      // a picture of the signal in the map's own projection: only stretched, not warped
      var image = L.imageOverlay(data.url, data.bounds, {
        opacity: spec.opacity,
        pane: pane(map, spec.pane || "density"),
        interactive: false,
      });
      image.geo5gKey = key;
      layers[key] = image;
      return image;
    }
    var style = styler(spec);
    var draw = renderer(map, spec);
    // the casing is made first: a group draws its members in the order of their ids
    var casing = spec.casing
      ? L.geoJson(data.geojson, {
          style: function () {
            return spec.casing;
          },
          pane: pane(map, spec.pane || "lines"),
          renderer: draw,
          interactive: false,
        })
      : null;
    var geo = L.geoJson(data.geojson, {
      style: style,
      pane: pane(map, spec.pane || "lines"),
      renderer: draw,
      interactive: spec.interactive !== false,
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(
          latlng,
          Object.assign({ pane: spec.pane, renderer: draw }, style(feature))
        );
      },
    });
    if (spec.interactive !== false) {
      geo.bindTooltip(tooltip(spec), { sticky: spec.sticky !== false, className: "geo5g-tip" });
      if (spec.highlight) {
        geo.on("mouseover", function (e) {
          e.layer.setStyle(spec.highlight);
          if (e.layer.bringToFront && spec.kind !== "points") {
            e.layer.bringToFront();
          }
        });
        geo.on("mouseout", function (e) {
          geo.resetStyle(e.layer);
        });
      }
    }
    var parts = casing ? [casing, geo] : [geo];
    if (data.labels) {
      parts = parts.concat(labels(data.labels));
    }
    var out = parts.length > 1 ? L.featureGroup(parts) : geo;
    if (data.labels && spec.labelMinZoom) {
      // Many names only become readable once zoomed in.
      map.on("zoomend moveend", function () {
        var hide = map.getZoom() < spec.labelMinZoom;
        L.DomUtil[hide ? "addClass" : "removeClass"](map.getContainer(), "geo5g-labels-hidden");
      });
    }
    out.geo5gKey = key;
    out.geo5gFeatures = geo;
    layers[key] = out;
    return out;
  }

  /* Phone and print: the map is resized by the stylesheet; Leaflet is told so. */
  function layout(map, bounds) {
    function refit() {
      map.invalidateSize({ pan: false });
      if (bounds) {
        map.fitBounds(bounds, { padding: [10, 10], animate: false });
      }
    }
    window.addEventListener("beforeprint", refit);
    window.addEventListener("afterprint", refit);
    if (window.matchMedia) {
      var print = window.matchMedia("print");
      if (print.addEventListener) {
        print.addEventListener("change", refit);
      }
      if (window.matchMedia("(max-width: 900px)").matches) {
        // narrow screens: the layer list starts folded (a tap on its icon opens it)
        var control = map.getContainer().querySelector(".leaflet-control-layers");
        if (control) {
          control.classList.remove("leaflet-control-layers-expanded");
          map.on("click", function () {
            control.classList.remove("leaflet-control-layers-expanded");
          });
        }
        refit();
      }
    }
  }

  /* Tables of the panel: a click on a header sorts, a click on a row zooms to it. */
  function tables(map) {
    document.querySelectorAll("table.geo5g-detail").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      heads.forEach(function (th, col) {
        th.addEventListener("click", function () {
          var up = th.getAttribute("data-dir") !== "asc";
          heads.forEach(function (h) {
            h.removeAttribute("data-dir");
          });
          th.setAttribute("data-dir", up ? "asc" : "desc");
          var numeric = th.getAttribute("data-sort") === "num";
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = a.cells[col], y = b.cells[col];
            var d = numeric
              ? (parseFloat(x.getAttribute("data-value")) || -Infinity) -
                (parseFloat(y.getAttribute("data-value")) || -Infinity)
              : x.textContent.localeCompare(y.textContent, "zh");
            return up ? d : -d;
          });
          rows.forEach(function (r) {
            body.appendChild(r);
          });
        });
      });
      table.querySelectorAll("tbody tr[data-lat]").forEach(function (row) {
        row.addEventListener("click", function () {
          var lat = parseFloat(row.getAttribute("data-lat"));
          var lon = parseFloat(row.getAttribute("data-lon"));
          if (isFinite(lat) && isFinite(lon)) {
            map.setView([lat, lon], Math.max(map.getZoom(), 12));
            if (window.matchMedia("(max-width: 800px)").matches) {
              map.getContainer().scrollIntoView({ behavior: "smooth" });
            }
          }
        });
      });
    });
  }

  /* Legend control; its sections follow their layers on and off. */
  function finish(map, legendHtml, bounds) {
    api.map = map;
    api.bounds = bounds;
    if (bounds) {
      map.fitBounds(bounds, { padding: [10, 10], animate: false });
    }
    if (map.attributionControl) {
      map.attributionControl.setPrefix("Leaflet");
    }
    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "geo5g-legend leaflet-bar");
      div.innerHTML = legendHtml; // built and escaped by render.py
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
    var container = legend.getContainer();

    function sync() {
      container.querySelectorAll("[data-layer]").forEach(function (section) {
        var lyr = layers[section.getAttribute("data-layer")];
        section.style.display = lyr && map.hasLayer(lyr) ? "" : "none";
      });
    }
    map.on("overlayadd overlayremove", sync);
    sync();
    tables(map);
    layout(map, bounds);
    document.body.setAttribute("data-geo5g-ready", "1");
  }

  var api = { layer: layer, finish: finish, layers: layers, fmt: fmt, map: null };
  return api;
})();
