// The tray icon as a small service (after Signal's SystemTrayService): idempotent
// setters, one render() that derives icon, tooltip and menu from the current state
// (tray-model.ts), and a seam for the Electron objects so it is tested without them.
// The menu is rebuilt and set again on every change: Linux (StatusNotifierItem)
// does not pick up changes to an already-set menu (docs/design.md §10.5).
import type { GatewayStatus } from '../core/gateway.ts';
import type { NetworkView } from '../core/net/networks.ts';
import { trayModel, type MenuAction, type MenuItemModel, type TrayIconState, type TrayInput, type TrayModel } from './tray-model.ts';

/** Electron's MenuItemConstructorOptions, as far as the tray uses them. */
export interface MenuTemplateItem {
  type: 'normal' | 'checkbox' | 'separator' | 'submenu';
  label?: string;
  enabled?: boolean;
  checked?: boolean;
  click?: () => void;
  submenu?: MenuTemplateItem[];
}

export interface TrayLike {
  setImage(image: unknown): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  on(event: 'click', fn: () => void): unknown;
  destroy(): void;
}

export interface TrayDeps {
  createTray(image: unknown): TrayLike;
  buildMenu(template: MenuTemplateItem[]): unknown;
  image(state: TrayIconState): unknown;
  onAction(action: MenuAction): void;
}

export function toTemplate(items: MenuItemModel[], onAction: (a: MenuAction) => void): MenuTemplateItem[] {
  return items.map((m) => {
    const t: MenuTemplateItem = { type: m.type };
    if (m.label !== undefined) t.label = m.label;
    if (m.enabled !== undefined) t.enabled = m.enabled;
    if (m.checked !== undefined) t.checked = m.checked;
    if (m.submenu) t.submenu = toTemplate(m.submenu, onAction);
    const action = m.action;
    if (action) t.click = () => onAction(action);
    return t;
  });
}

export class TrayService {
  private readonly deps: TrayDeps;
  private tray: TrayLike | null = null;
  private input: TrayInput = { status: null, networks: [], openAtLogin: false, problems: [] };
  private rendered = '';
  private icon: TrayIconState | null = null;
  renders = 0;

  constructor(deps: TrayDeps) {
    this.deps = deps;
  }

  setStatus(status: GatewayStatus): void {
    this.update({ status });
  }

  setNetworks(networks: NetworkView[]): void {
    this.update({ networks });
  }

  setOpenAtLogin(openAtLogin: boolean): void {
    this.update({ openAtLogin });
  }

  setProblems(problems: string[]): void {
    this.update({ problems });
  }

  model(): TrayModel {
    return trayModel(this.input);
  }

  private update(patch: Partial<TrayInput>): void {
    this.input = { ...this.input, ...patch };
    this.render();
  }

  /** Creates the tray on first use; afterwards changes only what changed. */
  render(): void {
    const model = this.model();
    const key = JSON.stringify(model);
    if (this.tray && key === this.rendered) return;
    this.rendered = key;
    this.renders++;
    if (!this.tray) {
      this.tray = this.deps.createTray(this.deps.image(model.icon));
      this.icon = model.icon;
      // A click is unreliable on Linux (single/double, or none): the menu has "Open dashboard" too.
      this.tray.on('click', () => this.deps.onAction({ kind: 'open' }));
    } else if (this.icon !== model.icon) {
      this.tray.setImage(this.deps.image(model.icon));
      this.icon = model.icon;
    }
    this.tray.setToolTip(model.tooltip);
    this.tray.setContextMenu(this.deps.buildMenu(toTemplate(model.menu, this.deps.onAction)));
  }

  destroy(): void {
    this.tray?.destroy();
    this.tray = null;
  }
}
