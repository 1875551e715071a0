// Drag to reschedule: the pointer moves an entry's chip to another day (or hour); the
// entry dialog's "Move…" does the same from the keyboard.

import { workspaces } from "../api.js";

/**
 * Drag with the pointer: past a few pixels the chip follows it and the day (or hour)
 * under it is marked; let go there and the entry moves. A press without a drag is a
 * click, which opens the entry.
 */
export function draggable(grid, chip, key) {
  chip.addEventListener("click", (event) => {
    if (chip.dataset.dragged) { delete chip.dataset.dragged; event.preventDefault(); return; }
    grid.onOpen(key);
  });
  chip.addEventListener("pointerdown", (down) => {
    // Moving an entry is an editor's; a viewer's press only opens it.
    if (down.button !== 0 || !workspaces.may("editor")) return;
    const from = { x: down.clientX, y: down.clientY };
    let ghost = null;
    let target = null;
    const move = (event) => {
      if (!ghost) {
        if (Math.hypot(event.clientX - from.x, event.clientY - from.y) < 6) return;
        ghost = chip.cloneNode(true);
        ghost.classList.add("ghost");
        ghost.removeAttribute("id");
        ghost.style.width = `${chip.offsetWidth}px`;
        document.body.append(ghost);
        chip.classList.add("dragging");
      }
      ghost.style.left = `${event.clientX + 6}px`;
      ghost.style.top = `${event.clientY + 6}px`;
      const over = document.elementFromPoint(event.clientX, event.clientY)?.closest("[data-drop]") ?? null;
      if (over !== target) {
        target?.classList.remove("drop-target");
        target = over;
        target?.classList.add("drop-target");
      }
    };
    const end = async (event) => {
      chip.removeEventListener("pointermove", move);
      chip.removeEventListener("pointerup", end);
      chip.removeEventListener("pointercancel", end);
      if (!ghost) return;
      ghost.remove();
      chip.classList.remove("dragging");
      target?.classList.remove("drop-target");
      chip.dataset.dragged = "yes";
      if (event.type !== "pointerup" || !target) return;
      const entry = grid.entries.get(key);
      const date = target.dataset.date;
      const time = target.dataset.hour ? `${target.dataset.hour}:${String(entry.time).slice(3, 5)}` : String(entry.time).slice(0, 5);
      await grid.move(key, date, time);
    };
    chip.setPointerCapture?.(down.pointerId);
    chip.addEventListener("pointermove", move);
    chip.addEventListener("pointerup", end);
    chip.addEventListener("pointercancel", end);
  });
}
