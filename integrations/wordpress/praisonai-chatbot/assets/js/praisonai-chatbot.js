/**
 * PraisonAI Chatbot widget: vanilla JavaScript, no build step.
 *
 * Sends the visitor's YAML/JSON request to the WordPress REST proxy (mode "proxy") or, in mode "direct", to the
 * service itself with a short-lived JWT from WordPress; follows the job live through its event stream (Server-Sent
 * Events read with fetch, so the same headers authenticate it; resumed with Last-Event-ID when the proxy ends a
 * stream), falls back to asking every few seconds when streaming fails, backs off on 429/503 as Retry-After says,
 * shows the handler's progress messages, cancels on request, and fetches a fresh download link on click.
 * The page configuration (window.praisonaiChatbot) holds the REST root, a wp_rest nonce and strings, never a key.
 */
(function () {
	'use strict';

	var cfg = window.praisonaiChatbot || {};
	var t = cfg.i18n || {};
	var INTERVAL_MS = cfg.pollIntervalMs > 0 ? cfg.pollIntervalMs : 5000;
	var BUDGET_MS = cfg.pollBudgetMs > 0 ? cfg.pollBudgetMs : 15 * 60 * 1000;
	var MAX_BACKOFF_MS = 120000;
	var TERMINAL = ['done', 'error', 'cancelled'];
	// Worth asking again: no answer at all, rate limited, or the service (or the proxy's view of it) down for now.
	var TRANSIENT = [0, 429, 502, 503, 504];

	function format(text, value) {
		return String(text || '').replace(/%(?:\d\$)?[sd]/, String(value));
	}

	function isTerminal(status) {
		return TERMINAL.indexOf(status) !== -1;
	}

	function byteLength(text) {
		return window.TextEncoder ? new window.TextEncoder().encode(text).length : unescape(encodeURIComponent(text)).length;
	}

	/** Seconds from a Retry-After header (delta-seconds or an HTTP date); 0 when absent or unreadable. */
	function retryAfterSeconds(value) {
		if (!value) {
			return 0;
		}
		if (/^\d+$/.test(value.trim())) {
			return parseInt(value, 10);
		}
		var when = Date.parse(value);
		return isNaN(when) ? 0 : Math.max(0, Math.ceil((when - Date.now()) / 1000));
	}

	/** Every answer becomes {ok, status, body, retryAfter}; a network failure has status 0. */
	function readAnswer(response) {
		return response.text().then(function (text) {
			var body = null;
			try {
				body = text ? JSON.parse(text) : null;
			} catch (e) {
				body = null;
			}
			return {
				ok: response.ok,
				status: response.status,
				body: body,
				retryAfter: retryAfterSeconds(response.headers.get('Retry-After'))
			};
		});
	}

	function networkFailure() {
		return { ok: false, status: 0, body: null, retryAfter: 0 };
	}

	/** The text to show for a failed answer: WordPress's {message}, the service's {detail}, or a generic line. */
	function messageOf(answer) {
		var body = answer && answer.body;
		if (body && typeof body.message === 'string' && body.message) {
			return body.message;
		}
		if (body && typeof body.detail === 'string' && body.detail) {
			return body.detail;
		}
		return t.unknownError || 'Something went wrong.';
	}

	/** Whether this browser can read a streamed response body (then jobs are followed live). */
	function canStream() {
		return !!(window.ReadableStream && window.TextDecoder && window.fetch);
	}

	/**
	 * Read a Server-Sent Events body, calling onEvent(object) for each event's JSON data; resolves at its end.
	 */
	function readEvents(response, onEvent) {
		var reader = response.body.getReader();
		var decoder = new window.TextDecoder();
		var buffer = '';
		function frame(text) {
			var data = '';
			text.split(/\r?\n/).forEach(function (line) {
				if (line.indexOf('data:') === 0) {
					data += line.slice(5).replace(/^ /, '');
				}
			});
			if (data) {
				try {
					onEvent(JSON.parse(data));
				} catch (e) {
					// A malformed event is skipped; the next one (or the job itself) still tells the state.
				}
			}
		}
		function pump() {
			return reader.read().then(function (chunk) {
				if (chunk.done) {
					return;
				}
				buffer += decoder.decode(chunk.value, { stream: true });
				var frames = buffer.split(/\r?\n\r?\n/);
				buffer = frames.pop();
				frames.forEach(frame);
				return pump();
			});
		}
		return pump();
	}

	function withQuery(url, query) {
		return url + (url.indexOf('?') === -1 ? '?' : '&') + query;
	}

	/* Mode A: everything through the WordPress REST proxy, which adds the API key on the server. */
	function ProxyTransport() {}

	ProxyTransport.prototype.request = function (method, path, body) {
		var init = {
			method: method,
			credentials: 'same-origin',
			headers: { Accept: 'application/json', 'X-WP-Nonce': cfg.nonce || '' }
		};
		if (body !== undefined) {
			init.headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		// The REST root may be ".../wp-json/praisonai/v1/" or "...?rest_route=/praisonai/v1/" (plain permalinks).
		return window.fetch((cfg.restRoot || '') + path, init).then(readAnswer, networkFailure);
	};

	ProxyTransport.prototype.submit = function (service, documentText, documentFormat) {
		return this.request('POST', 'jobs', { service: service, document: documentText, format: documentFormat });
	};

	ProxyTransport.prototype.job = function (jobId) {
		return this.request('GET', 'jobs/' + encodeURIComponent(jobId));
	};

	ProxyTransport.prototype.download = function (jobId) {
		return this.request('GET', 'jobs/' + encodeURIComponent(jobId) + '/download');
	};

	ProxyTransport.prototype.cancel = function (jobId) {
		return this.request('POST', 'jobs/' + encodeURIComponent(jobId) + '/cancel', {});
	};

	/** The job's event stream (a fetch Response), resumed after event afterSeq. */
	ProxyTransport.prototype.events = function (jobId, afterSeq) {
		return window.fetch((cfg.restRoot || '') + 'jobs/' + encodeURIComponent(jobId) + '/events', {
			method: 'GET',
			credentials: 'same-origin',
			headers: { Accept: 'text/event-stream', 'X-WP-Nonce': cfg.nonce || '', 'Last-Event-ID': String(afterSeq || 0) }
		});
	};

	/* Mode B: the browser calls the service with "Authorization: Bearer <JWT>" minted by WordPress (5 minutes). */
	function DirectTransport() {
		this.proxy = new ProxyTransport();
		this.token = '';
		this.expires = 0;
	}

	DirectTransport.prototype.bearer = function () {
		var self = this;
		if (this.token && Date.now() < this.expires - 30000) {
			return Promise.resolve({ ok: true, token: this.token });
		}
		return this.proxy.request('POST', 'token', {}).then(function (answer) {
			if (!answer.ok || !answer.body || !answer.body.token) {
				return answer;
			}
			self.token = answer.body.token;
			self.expires = Date.now() + (answer.body.expires_in || 300) * 1000;
			return { ok: true, token: self.token };
		});
	};

	DirectTransport.prototype.call = function (method, path, body, contentType, retried) {
		var self = this;
		var base = (cfg.serviceUrl || '').replace(/\/+$/, '');
		return this.bearer().then(function (auth) {
			if (!auth.token) {
				return auth;
			}
			var init = {
				method: method,
				mode: 'cors',
				credentials: 'omit',
				headers: { Accept: 'application/json', Authorization: 'Bearer ' + auth.token }
			};
			if (body !== undefined) {
				init.headers['Content-Type'] = contentType;
				init.body = body;
			}
			return window.fetch(base + path, init).then(readAnswer, networkFailure).then(function (answer) {
				if (answer.status === 401 && !retried) {
					self.token = '';
					return self.call(method, path, body, contentType, true);
				}
				return answer;
			});
		});
	};

	DirectTransport.prototype.submit = function (service, documentText, documentFormat) {
		var self = this;
		var type = documentFormat === 'json' ? 'application/json' : 'application/yaml';
		return this.call('POST', withQuery('/jobs', 'service=' + encodeURIComponent(service)), documentText, type)
			.then(function (answer) {
				if (answer.ok && answer.body && answer.body.job_id && answer.body.receipt) {
					// Best effort: WordPress keeps the history; the job runs whether or not this succeeds. The
					// service's signed receipt proves to WordPress that this user submitted the job.
					self.proxy.request('POST', 'history', { job_id: answer.body.job_id, receipt: answer.body.receipt });
				}
				return answer;
			});
	};

	DirectTransport.prototype.job = function (jobId) {
		return this.call('GET', '/jobs/' + encodeURIComponent(jobId));
	};

	DirectTransport.prototype.download = function (jobId) {
		return this.call('GET', '/jobs/' + encodeURIComponent(jobId) + '/download?format=json');
	};

	DirectTransport.prototype.cancel = function (jobId) {
		return this.call('POST', '/jobs/' + encodeURIComponent(jobId) + '/cancel');
	};

	DirectTransport.prototype.events = function (jobId, afterSeq) {
		var base = (cfg.serviceUrl || '').replace(/\/+$/, '');
		return this.bearer().then(function (auth) {
			if (!auth.token) {
				return null;
			}
			return window.fetch(base + '/jobs/' + encodeURIComponent(jobId) + '/events', {
				method: 'GET',
				mode: 'cors',
				credentials: 'omit',
				headers: { Accept: 'text/event-stream', Authorization: 'Bearer ' + auth.token, 'Last-Event-ID': String(afterSeq || 0) }
			});
		});
	};

	function element(tag, className, text) {
		var node = document.createElement(tag);
		if (className) {
			node.className = className;
		}
		if (text !== undefined) {
			node.textContent = text;
		}
		return node;
	}

	/* One job in the conversation: a bot message that follows the job until it ends. */
	function JobCard(widget) {
		this.widget = widget;
		this.jobId = '';
		this.status = '';
		this.timer = 0;
		this.backoffMs = 0;
		this.deadline = 0;
		this.el = element('li', 'praisonai-chatbot__message praisonai-chatbot__message--bot praisonai-chatbot__job');
		var head = element('div', 'praisonai-chatbot__job-head');
		this.badge = element('span', 'praisonai-chatbot__badge');
		this.idLabel = element('code', 'praisonai-chatbot__job-id');
		head.appendChild(this.badge);
		head.appendChild(this.idLabel);
		this.text = element('p', 'praisonai-chatbot__job-text');
		this.meter = element('div', 'praisonai-chatbot__meter');
		this.progress = element('progress', 'praisonai-chatbot__progress');
		this.progress.max = 100;
		this.progress.setAttribute('aria-label', t.progress || 'Progress');
		this.percent = element('span', 'praisonai-chatbot__percent');
		this.meter.appendChild(this.progress);
		this.meter.appendChild(this.percent);
		this.note = element('p', 'praisonai-chatbot__job-note');
		this.error = element('p', 'praisonai-chatbot__job-error');
		this.error.setAttribute('role', 'alert');
		this.actions = element('div', 'praisonai-chatbot__job-actions');
		this.downloadButton = element('button', 'praisonai-chatbot__download', t.download || 'Download');
		this.downloadButton.type = 'button';
		this.actions.appendChild(this.downloadButton);
		this.controls = element('div', 'praisonai-chatbot__job-controls');
		this.cancelButton = element('button', 'praisonai-chatbot__cancel', t.cancel || 'Cancel');
		this.cancelButton.type = 'button';
		this.controls.appendChild(this.cancelButton);
		[head, this.text, this.meter, this.note, this.error, this.controls, this.actions].forEach(function (child) {
			this.el.appendChild(child);
		}, this);
		this.error.hidden = true;
		this.actions.hidden = true;
		this.controls.hidden = true;
		this.lastSeq = 0;
		this.current = {};
		this.emptyStreams = 0;
		this.downloadButton.addEventListener('click', this.download.bind(this));
		this.cancelButton.addEventListener('click', this.cancel.bind(this));
	}

	JobCard.prototype.sending = function () {
		this.el.setAttribute('data-status', 'sending');
		this.badge.textContent = '…';
		this.text.textContent = t.sending || 'Sending…';
		this.progress.removeAttribute('value');
	};

	JobCard.prototype.start = function (job) {
		this.jobId = job.job_id;
		this.deadline = Date.now() + BUDGET_MS;
		this.render(job);
		if (!isTerminal(job.status)) {
			if (canStream()) {
				this.follow();
			} else {
				this.schedule(INTERVAL_MS);
			}
		}
	};

	/** Follow the job's event stream; when it cannot be had, fall back to asking every INTERVAL_MS. */
	JobCard.prototype.follow = function () {
		var self = this;
		var opened = Date.now();
		var fallBack = function () {
			self.streaming = false;
			if (!isTerminal(self.status)) {
				self.schedule(INTERVAL_MS);
			}
		};
		this.streaming = true;
		Promise.resolve(this.widget.transport.events(this.jobId, this.lastSeq)).then(function (response) {
			if (!response || !response.ok || !response.body) {
				fallBack();
				return;
			}
			return readEvents(response, self.onEvent.bind(self)).then(function () {
				if (isTerminal(self.status)) {
					self.streaming = false;
					return;
				}
				// The proxy ends each stream after a while (25 s): resume after the last event (nothing is missed).
				// Streams that keep ending at once mean something in between cuts them: poll instead.
				self.emptyStreams = Date.now() - opened < 5000 ? self.emptyStreams + 1 : 0;
				if (self.emptyStreams >= 3 || Date.now() > self.deadline) {
					fallBack();
				} else {
					self.follow();
				}
			});
		}).catch(fallBack);
	};

	/** One event of the stream: {seq, type, status, progress, message, error_msg}. */
	JobCard.prototype.onEvent = function (event) {
		var self = this;
		if (!event || typeof event.seq !== 'number' || event.seq <= this.lastSeq) {
			return;
		}
		this.lastSeq = event.seq;
		var job = {};
		Object.keys(this.current).forEach(function (key) {
			job[key] = self.current[key];
		});
		job.job_id = this.jobId;
		job.status = event.status;
		if (typeof event.progress === 'number') {
			job.progress = event.progress;
		}
		if (event.type === 'progress' && event.message) {
			job.progress_msg = event.message;
		}
		if (event.type === 'started') {
			job.progress = null;
			job.progress_msg = null;
		}
		if (event.error_msg) {
			job.error_msg = event.error_msg;
		}
		if (event.type === 'done') {
			// The event has no file name: ask for the job once (this also updates the site's job history).
			this.widget.transport.job(this.jobId).then(function (answer) {
				self.render(answer.ok && answer.body && answer.body.status ? answer.body : job);
			});
			return;
		}
		this.render(job);
	};

	/** Ask the service to cancel the job; the stream (or the next poll) then shows it cancelled. */
	JobCard.prototype.cancel = function () {
		var self = this;
		this.cancelButton.disabled = true;
		this.cancelButton.textContent = t.cancelling || 'Cancelling…';
		this.widget.transport.cancel(this.jobId).then(function (answer) {
			if (answer.ok && answer.body && answer.body.status) {
				self.render(answer.body);
				if (!isTerminal(answer.body.status) && !self.streaming) {
					self.schedule(1000);
				}
				return;
			}
			self.cancelButton.disabled = false;
			self.cancelButton.textContent = t.cancel || 'Cancel';
			self.setNote(messageOf(answer));
		});
	};

	JobCard.prototype.schedule = function (ms) {
		var self = this;
		window.clearTimeout(this.timer);
		this.timer = window.setTimeout(function () {
			self.poll();
		}, ms);
	};

	JobCard.prototype.poll = function () {
		var self = this;
		if (Date.now() > this.deadline) {
			this.setNote(t.budgetExceeded);
			this.el.setAttribute('data-status', 'timeout');
			this.widget.announce(t.budgetExceeded);
			return;
		}
		if (this.streaming) {
			return;
		}
		this.widget.transport.job(this.jobId).then(function (answer) {
			if (answer.ok && answer.body && answer.body.status) {
				self.backoffMs = 0;
				self.setNote('');
				self.render(answer.body);
				if (!isTerminal(answer.body.status)) {
					self.schedule(INTERVAL_MS);
				}
				return;
			}
			if (TRANSIENT.indexOf(answer.status) !== -1) {
				self.retryLater(answer);
				return;
			}
			self.fail(messageOf(answer));
		});
	};

	/** Wait as long as Retry-After says; without one, double the wait each time (up to two minutes). */
	JobCard.prototype.retryLater = function (answer) {
		var waitMs;
		if (answer.retryAfter > 0) {
			waitMs = answer.retryAfter * 1000;
		} else {
			this.backoffMs = this.backoffMs ? Math.min(this.backoffMs * 2, MAX_BACKOFF_MS) : INTERVAL_MS * 2;
			waitMs = this.backoffMs;
		}
		this.setNote(format(answer.status === 0 ? t.offlineRetry : t.busyRetry, Math.round(waitMs / 1000)));
		this.schedule(waitMs);
	};

	JobCard.prototype.render = function (job) {
		var status = job.status;
		var shortId = String(job.job_id || '').slice(0, 8);
		this.el.setAttribute('data-status', status);
		this.badge.textContent = t[status] || status;
		this.idLabel.textContent = shortId;
		this.idLabel.title = job.job_id || '';
		if (status === 'queued') {
			this.text.textContent = t.jobQueued;
		} else if (status === 'processing') {
			this.text.textContent = t.jobProcessing + (job.progress_msg ? ' ' + job.progress_msg : '');
		} else if (status === 'done') {
			this.text.textContent = job.filename ? format(t.jobDone, job.filename) : t.jobDoneNoName;
		} else if (status === 'cancelled') {
			this.text.textContent = t.jobCancelled || 'The job was cancelled.';
		} else {
			this.text.textContent = t.jobFailed;
		}
		this.current = job;
		this.renderProgress(job);
		this.actions.hidden = status !== 'done';
		this.controls.hidden = isTerminal(status);
		if (status === 'error') {
			this.showError(job.error_msg || t.unknownError);
		}
		this.keepInView();
		if (status !== this.status) {
			this.status = status;
			this.widget.announce(this.badge.textContent + ': ' + this.text.textContent +
				(status === 'error' && job.error_msg ? ' ' + job.error_msg : ''));
		}
	};

	JobCard.prototype.renderProgress = function (job) {
		var value = typeof job.progress === 'number' ? job.progress : null;
		if (value !== null && value <= 1) {
			value = value * 100;
		}
		if (job.status === 'done') {
			value = 100;
		}
		this.meter.hidden = job.status === 'error' || job.status === 'cancelled';
		if (value === null || job.status === 'queued') {
			this.progress.removeAttribute('value');
			this.percent.textContent = '';
		} else {
			this.progress.value = Math.max(0, Math.min(100, Math.round(value)));
			this.percent.textContent = this.progress.value + '%';
		}
	};

	JobCard.prototype.showError = function (message) {
		this.error.textContent = message;
		this.error.hidden = false;
	};

	JobCard.prototype.fail = function (message) {
		window.clearTimeout(this.timer);
		this.el.setAttribute('data-status', 'error');
		this.badge.textContent = t.error || 'Failed';
		if (!this.jobId) {
			this.text.textContent = t.jobFailed;
		}
		this.meter.hidden = true;
		this.actions.hidden = true;
		this.showError(message);
		this.keepInView();
		this.widget.announce((t.error || 'Failed') + ': ' + message);
	};

	/** The newest message grew (progress, error, button): keep the conversation scrolled to it. */
	JobCard.prototype.keepInView = function () {
		if (this.el === this.widget.log.lastElementChild) {
			this.widget.scrollToEnd();
		}
	};

	JobCard.prototype.setNote = function (message) {
		this.note.textContent = message || '';
		this.note.hidden = !message;
	};

	/** Ask for a freshly signed link on every click (links expire), then let the browser download it. */
	JobCard.prototype.download = function () {
		var self = this;
		this.downloadButton.disabled = true;
		this.setNote(t.preparing);
		this.widget.transport.download(this.jobId).then(function (answer) {
			self.downloadButton.disabled = false;
			if (answer.ok && answer.body && answer.body.download_url) {
				self.setNote('');
				window.location.assign(answer.body.download_url);
				return;
			}
			self.setNote(messageOf(answer));
		});
	};

	function Widget(root) {
		var data = {};
		var dataNode = root.querySelector('.praisonai-chatbot__data');
		try {
			data = JSON.parse(dataNode ? dataNode.textContent : '{}') || {};
		} catch (e) {
			data = {};
		}
		this.root = root;
		this.service = data.service || root.getAttribute('data-service') || '';
		this.sample = data.sample || '';
		this.log = root.querySelector('.praisonai-chatbot__log');
		this.live = root.querySelector('.praisonai-chatbot__live');
		this.form = root.querySelector('.praisonai-chatbot__form');
		this.input = root.querySelector('.praisonai-chatbot__input');
		this.sendButton = root.querySelector('.praisonai-chatbot__send');
		this.sampleButton = root.querySelector('.praisonai-chatbot__sample');
		this.transport = cfg.mode === 'direct' ? new DirectTransport() : new ProxyTransport();

		this.form.addEventListener('submit', this.submit.bind(this));
		this.input.addEventListener('keydown', function (event) {
			if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
				this.submit(event);
			}
		}.bind(this));
		if (this.sampleButton) {
			this.sampleButton.addEventListener('click', this.useSample.bind(this));
		}
		root.classList.add('praisonai-chatbot--ready');
	}

	Widget.prototype.announce = function (message) {
		if (this.live) {
			this.live.textContent = message;
		}
	};

	Widget.prototype.add = function (node) {
		this.log.appendChild(node);
		this.scrollToEnd();
	};

	Widget.prototype.scrollToEnd = function () {
		this.log.scrollTop = this.log.scrollHeight;
	};

	Widget.prototype.useSample = function () {
		this.input.value = this.sample;
		this.input.scrollTop = 0;
		this.input.focus();
		this.input.setSelectionRange(0, 0);
		this.announce(t.sampleLoaded);
	};

	Widget.prototype.addRequest = function (text, documentFormat) {
		var lines = text.replace(/\s+$/, '').split('\n');
		// Show the start of the request itself, not the comments in front of it.
		var content = lines.filter(function (line) {
			return line.trim() !== '' && !/^\s*#/.test(line);
		});
		var bubble = element('li', 'praisonai-chatbot__message praisonai-chatbot__message--user');
		bubble.appendChild(element('p', 'praisonai-chatbot__summary', documentFormat === 'json' ? t.sentJson : t.sentYaml));
		bubble.appendChild(element('pre', 'praisonai-chatbot__excerpt', content.slice(0, 4).join('\n') + (content.length > 4 ? '\n…' : '')));
		this.add(bubble);
	};

	Widget.prototype.submit = function (event) {
		var self = this;
		var text = this.input.value;
		event.preventDefault();
		if (!text.trim()) {
			this.announce(t.empty);
			this.input.setAttribute('aria-invalid', 'true');
			this.input.focus();
			return;
		}
		this.input.removeAttribute('aria-invalid');
		if (byteLength(text) > (cfg.maxBytes || 1048576)) {
			this.announce(t.tooLarge);
			return;
		}
		var documentFormat = /^\s*[{[]/.test(text) ? 'json' : 'yaml';
		var card = new JobCard(this);
		this.addRequest(text, documentFormat);
		this.add(card.el);
		card.sending();
		this.sendButton.disabled = true;
		this.transport.submit(this.service, text, documentFormat).then(function (answer) {
			self.sendButton.disabled = false;
			if (answer.ok && answer.body && answer.body.job_id) {
				self.input.value = ''; // like a chat; a refused request stays in the box to be fixed
				card.start(answer.body);
			} else {
				card.fail(messageOf(answer));
			}
		});
	};

	function init() {
		var roots = document.querySelectorAll('.praisonai-chatbot:not(.praisonai-chatbot--ready)');
		Array.prototype.forEach.call(roots, function (root) {
			if (root.querySelector('.praisonai-chatbot__form')) {
				new Widget(root); // eslint-disable-line no-new
			}
		});
	}

	if (document.readyState === 'loading') {
		document.addEventListener('DOMContentLoaded', init);
	} else {
		init();
	}
}());
