// Pick where the next zoom level sits by clicking on the views (README, "Zoom toward any point").
//
// Zoom Views Side by Side sends its row of views as `zoom_views` (the file, the level count, each view's size
// and the gap between views). This shows the row on the node; a click inside view i writes the line that
// places level i + 1 inside level i, in the targets of the Empty Zoom Latent that feeds the node's zoom input.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const VIEWS_NODE = "P10_ZoomViews";
const LATENT_NODE = "P10_EmptyZoomLatent";
const HINT = "Click inside a view to place the next level there (Empty Zoom Latent's targets), then queue again.";
const UNWIRED = "To pick targets here, wire this node's zoom straight from the Empty Zoom Latent that makes it.";

/** The Empty Zoom Latent wired straight into the node's zoom input, if that is what feeds it. */
function zoomSource(node) {
  const slot = node.findInputSlot("zoom");
  const source = slot >= 0 ? node.getInputNode(slot) : null;
  return source?.comfyClass === LATENT_NODE ? source : null;
}

/** The click as (level, x, y): the view it fell in and where, as fractions of that view; null in a gap. */
function clickedView(image, views, event) {
  const scale = Math.min(image.clientWidth / image.naturalWidth, image.clientHeight / image.naturalHeight);
  const left = (image.clientWidth - image.naturalWidth * scale) / 2;
  const top = (image.clientHeight - image.naturalHeight * scale) / 2;
  const px = (event.offsetX - left) / scale;
  const py = (event.offsetY - top) / scale;
  const level = Math.floor(px / (views.width + views.gap));
  const inside = px - level * (views.width + views.gap);
  if (level < 0 || level >= views.levels || inside > views.width || py < 0 || py > views.height) return null;
  return { level, x: inside / views.width, y: py / views.height };
}

/** Set the target that places level `level + 1` inside level `level`: one line per level from then on. */
function placeNextLevel(latent, { level, x, y }) {
  const widget = (name) => latent.widgets?.find((w) => w.name === name);
  const levels = Number(widget("levels")?.value);
  const count = widget("loop")?.value ? levels : levels - 1;
  const targets = widget("targets");
  if (!targets || !(level < count)) return;
  const lines = String(targets.value ?? "").split("\n").map((line) => line.trim()).filter(Boolean);
  // As on the node, one line stands for every level; a level without a line of its own takes the last one.
  const placed = Array.from({ length: count }, (_, i) => lines[Math.min(i, lines.length - 1)] ?? "0.5, 0.5");
  placed[level] = `${x.toFixed(3)}, ${y.toFixed(3)}`;
  targets.value = placed.join("\n");
  targets.callback?.(targets.value);
  latent.setDirtyCanvas(true, true);
}

app.registerExtension({
  name: "powers_of_ten.zoom_targets",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== VIEWS_NODE) return;

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      const image = document.createElement("img");
      image.className = "p10-zoom-views";
      image.title = HINT;
      image.style.cssText = "width: 100%; height: 100%; object-fit: contain; cursor: crosshair; display: none";
      image.addEventListener("click", (event) => {
        const latent = zoomSource(this);
        image.title = latent ? HINT : UNWIRED;
        const at = this.zoomViews && image.naturalWidth ? clickedView(image, this.zoomViews, event) : null;
        if (latent && at) placeNextLevel(latent, at);
      });
      const widget = this.addDOMWidget("zoom_views", "p10_zoom_views", image, {
        hideOnZoom: false,
        serialize: false,
      });
      widget.serialize = false;
      widget.computeLayoutSize = () => ({ minHeight: image.naturalWidth ? 160 : 0, minWidth: 0 });
      this.zoomViewsImage = image;
      return result;
    };

    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      onExecuted?.apply(this, arguments);
      const views = output?.zoom_views?.[0];
      if (!views || !this.zoomViewsImage) return;
      this.zoomViews = views;
      const query = new URLSearchParams({ filename: views.filename, subfolder: views.subfolder, type: views.type });
      this.zoomViewsImage.onload = () => {
        this.zoomViewsImage.style.display = "block";
        this.setSize([this.size[0], Math.max(this.size[1], this.computeSize()[1])]);
        this.setDirtyCanvas(true, true);
      };
      this.zoomViewsImage.src = api.apiURL(`/view?${query}&rand=${Math.random()}`);
    };
  },
});
