// The page's only framework: Preact with htm templates (no build step).
import { h, render } from "preact";
import htm from "htm";

export const html = htm.bind(h);
export { render };
export { useState, useEffect, useRef, useMemo, useCallback } from "preact/hooks";
