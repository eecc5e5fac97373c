// Small Electron helpers main.ts uses: tray images, notifications, a guard for
// callbacks that run inside the gateway, and the start-up error text.
import { nativeImage, Notification, type NativeImage } from 'electron';
import path from 'node:path';
import { ConfigError } from '../core/config/load.ts';
import type { NotificationModel } from './notify.ts';
import type { TrayIconState } from './tray-model.ts';

/** build/tray/<state>.png (macOS: <state>Template.png, tinted by the menu bar); @2x files are picked up beside them. */
export function trayImage(dir: string, state: TrayIconState, platform = process.platform): NativeImage {
  const mac = platform === 'darwin';
  const img = nativeImage.createFromPath(path.join(dir, `${state}${mac ? 'Template' : ''}.png`));
  if (mac) img.setTemplateImage(true);
  return img;
}

const shown = new Set<Notification>(); // referenced until closed, or their clicks are lost

export function showNotification(n: NotificationModel, onClick: () => void): void {
  if (!Notification.isSupported()) return;
  const note = new Notification({ title: n.title, body: n.body });
  shown.add(note);
  note.on('click', onClick);
  note.on('close', () => shown.delete(note));
  note.show();
}

/** A callback that logs instead of throwing into its caller. */
export function guard<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void {
  return (...a) => {
    try {
      fn(...a);
    } catch (e) {
      console.error(`postern: ${(e as Error)?.stack ?? e}`);
    }
  };
}

/** What the "cannot start" dialog says. */
export function startupError(e: unknown, configFile: string): string {
  if (e instanceof ConfigError) {
    return `${e.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}\n\nFix ${configFile}, or move it away to start over with safe defaults.`;
  }
  return String((e as Error)?.stack ?? e);
}
