/**
 * Launch options for the browser test projects: Debian's Chromium (`.ci/run` installs it), headless, with the
 * background networking that this closed network refuses turned off. No tool may download a browser of its own.
 */
export function chromiumLaunchOptions(extraArgs: string[] = []) {
  return {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  };
}
