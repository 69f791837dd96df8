import { describeBindingPage } from '../../../test-support/binding-page.js';

/** test/page built by Vite, in Chromium, Firefox and WebKit, over both transports (test-support/binding-page.ts). */
describeBindingPage('@boardcast/vue', new URL('./page/', import.meta.url));
